// electron-builder configuration (typed). `npm run package:app` builds the renderer and the
// Electron main, then packages with this via scripts/package-app.ts.

import type { Configuration } from 'electron-builder';

const config: Configuration = {
  appId: 'org.recall.workbench',
  productName: 'Recall',
  copyright: 'MIT License',
  directories: { output: 'release', buildResources: 'assets' },
  files: [
    'package.json',
    'dist/**/*',
    'dist-electron/**/*',
    'native-models/**/*',
    'main/engine/onnx/onnx.proto',
    '!**/*.map',
  ],
  asar: true,
  // Native addons cannot load from inside the asar archive; the bundled models stay real files
  // (ORT and the tokenizer read them by path).
  asarUnpack: ['**/node_modules/onnxruntime-node/**', '**/node_modules/better-sqlite3/**', '**/*.node', 'native-models/**'],
  // Rebuild native modules (better-sqlite3) against Electron's ABI.
  npmRebuild: true,
  linux: {
    target: ['AppImage', 'deb'],
    category: 'Science',
    maintainer: 'Recall maintainers',
    synopsis: 'Is compressed LLM knowledge forgotten or displaced?',
  },
  deb: { depends: ['libnss3', 'libgtk-3-0', 'libxss1', 'libasound2'] },
  win: { target: ['nsis'] },
  nsis: { oneClick: false, allowToChangeInstallationDirectory: true, perMachine: false },
  mac: { target: ['dmg'], category: 'public.app-category.developer-tools', hardenedRuntime: true },
  dmg: { title: 'Recall ${version}' },
};

export default config;
