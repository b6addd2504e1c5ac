/**
 * Bad input tied to one field of a request. The use cases throw it; each front door names the field its own
 * way: the CLI as its flag (`--steps 4: ...`), the app's contract as the field (`steps: ...`).
 */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
    readonly value?: string | number,
  ) {
    super(`${field}: ${detail}`);
  }
}
