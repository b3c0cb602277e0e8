// Renderer entry: apply the theme, pick the transport (Electron preload or WebSocket bridge),
// mount the workbench.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { applyTheme } from './lib/theme.svelte.ts';
import { chooseTransport } from './transport/transport.ts';

applyTheme();
const target = document.getElementById('app');
if (!target) throw new Error('index.html lacks #app');
mount(App, { target, props: { transport: chooseTransport() } });
