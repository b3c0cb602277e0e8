// Svelte 5 with runes everywhere; TypeScript in <script lang="ts"> is type-only (no preprocessing).
export default {
  compilerOptions: { runes: true },
};
