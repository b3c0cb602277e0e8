// Whether the views show the fixed sample study instead of this engine's data (for a first
// look, demos and screenshots). Off by default; the empty states offer it.
export const sampleMode = $state({ on: false });

export function setSampleMode(on: boolean): void {
  sampleMode.on = on;
}
