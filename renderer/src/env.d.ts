/// <reference types="svelte" />
/// <reference types="vite/client" />
import type { RecallHost } from '../../main/contract/index.ts';

declare global {
  interface Window {
    /** Set by the Electron preload (main/app/preload.ts); absent in a browser. */
    recall?: RecallHost;
  }
}
