// Transport over the Electron preload's `window.recall` (contextBridge -> ipcRenderer.invoke).

import type { RecallHost } from '../../../main/contract/index.ts';
import type { Transport } from './transport.ts';

export function createElectronTransport(host: RecallHost): Transport {
  return {
    label: 'Electron IPC',
    call: (method, params) => host.call(method, params),
    listen: (event, listener) => host.listen(event, listener),
    onStatus(listener) {
      listener('open');
      return () => undefined;
    },
  };
}
