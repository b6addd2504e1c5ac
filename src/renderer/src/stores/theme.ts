/**
 * Light or dark (issue 15): follows the system unless the user picked one, which is remembered (localStorage).
 * The effective theme is set on <html data-theme>, which swaps the stylesheet's colour variables, and charts
 * re-create themselves with the matching ECharts theme (composables/useEChart.ts).
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';

export type ThemeChoice = 'system' | 'light' | 'dark';
export const THEME_KEY = 'sadpm.theme';

function storedChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export const useThemeStore = defineStore('theme', () => {
  const choice = ref<ThemeChoice>(storedChoice());
  const media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
  const systemDark = ref(media?.matches ?? false);
  media?.addEventListener('change', (e) => {
    systemDark.value = e.matches;
    apply();
  });
  const effective = computed<'light' | 'dark'>(() =>
    choice.value === 'system' ? (systemDark.value ? 'dark' : 'light') : choice.value,
  );

  function apply(): void {
    if (typeof document !== 'undefined') document.documentElement.dataset.theme = effective.value;
  }

  function set(c: ThemeChoice): void {
    choice.value = c;
    try {
      if (c === 'system') localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, c);
    } catch {
      // Private windows may refuse storage: the choice then lasts for this page only.
    }
    apply();
  }

  apply();
  return { choice, effective, set, apply };
});
