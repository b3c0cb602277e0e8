// Electron main process: one engine (createApi), one window, IPC between them. Bundled to
// dist-electron/app/main.js by scripts/build.mjs; package.json "main" points there.

import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, app, ipcMain } from 'electron';
import { IPC_EVENT_CHANNEL } from '../contract/index.ts';
import { createApi } from '../engine/api.ts';
import { forwardEvents, registerIpc } from '../ipc/register.ts';
import { hardenContents } from './hardening.ts';
import { APP_ORIGIN, isAppUrl, registerAppScheme, serveRenderer } from './protocol.ts';

const here = dirname(fileURLToPath(import.meta.url));

app.enableSandbox();
registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void start();
}

async function start(): Promise<void> {
  await app.whenReady();
  const api = createApi();
  hardenContents();
  serveRenderer(join(app.getAppPath(), 'dist', 'renderer'));
  const stopIpc = registerIpc({ ipcMain, api, isTrustedSender: (e) => isAppUrl(e.senderFrame?.url ?? '') });
  const stopEvents = forwardEvents(api, (message) => {
    for (const win of BrowserWindow.getAllWindows()) win.webContents.send(IPC_EVENT_CHANNEL, message);
  });

  const open = () => createWindow();
  let win = open();
  app.on('second-instance', () => {
    if (win.isDestroyed()) win = open();
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) win = open();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  let closing = false;
  app.on('before-quit', (e) => {
    if (closing) return;
    closing = true;
    e.preventDefault();
    stopEvents();
    stopIpc();
    void api.close().finally(() => app.quit());
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    title: 'Recall',
    show: false,
    webPreferences: {
      preload: join(here, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}
