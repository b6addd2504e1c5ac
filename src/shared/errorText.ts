/**
 * Failure reasons are read by people: native libraries (Dawn) append source locations such as
 * "    at operator() (/home/runner/.../dawn/native/vulkan/BackendVk.cpp:368)" to their messages and
 * stderr lines. Those say nothing a user can act on; the message before them does.
 */

/** " at fn (path/file.cpp:368)" as a whole line or as one " | "-joined segment of a stderr tail. */
const START = String.raw`(?:^|\n|\s+\||(?<=stderr:))[ \t]*`;
const FRAME = String.raw`at [^\n|]*? \((?:[^\n|()]*[\\/])?[^\n|()\\/]+\.(?:c|cc|cpp|cxx|h|hh|hpp|m|mm)(?::\d+){1,2}\)`;
const END = String.raw`[ \t]*(?=$|\n|\s+\|)`;
const NATIVE_LOCATION = new RegExp(START + FRAME + END, 'g');

export function stripNativeLocations(text: string): string {
  let out = text;
  // Adjacent locations share a separator, so one pass can leave the second; repeat until stable.
  for (let prev = ''; prev !== out;) {
    prev = out;
    out = out.replace(NATIVE_LOCATION, '');
  }
  return out
    .replace(/stderr:\s*\|\s*/g, 'stderr: ')
    .replace(/(?:\s*\|)+\s*$/, '')
    .replace(/;\s*stderr:\s*$/, '')
    .trimEnd();
}
