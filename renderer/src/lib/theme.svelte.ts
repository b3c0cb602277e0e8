// Light / dark theme: follows prefers-color-scheme unless the user picks one, which sets
// <html data-theme> (app.css keys its colour tokens on both) and is remembered locally.

export type ThemeChoice = 'system' | 'light' | 'dark';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];
const STORAGE_KEY = 'recall.theme';

function stored(): ThemeChoice {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export const theme = $state({ choice: stored() });

export function applyTheme(choice: ThemeChoice = theme.choice): void {
  const root = document.documentElement;
  if (choice === 'system') delete root.dataset.theme;
  else root.dataset.theme = choice;
}

export function setTheme(choice: ThemeChoice): void {
  theme.choice = choice;
  applyTheme(choice);
  try {
    if (choice === 'system') localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, choice);
  } catch {
    // storage may be unavailable; the choice still holds for this session
  }
}

/** Whether the page is dark now (the choice, or the system's when 'system'); charts follow it. */
export const systemDark = $state({ dark: typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches });

export function watchSystemTheme(): () => void {
  const mq = matchMedia('(prefers-color-scheme: dark)');
  const update = () => (systemDark.dark = mq.matches);
  mq.addEventListener('change', update);
  return () => mq.removeEventListener('change', update);
}

export function isDark(): boolean {
  return theme.choice === 'dark' || (theme.choice === 'system' && systemDark.dark);
}
