// A full garbage collection on demand. V8 collects when its heap grows, but Recall's large
// buffers live outside the heap (typed arrays, SharedArrayBuffers), so a thread that has just
// dropped a layer's buffers may keep them for a long while; at the points where a phase of work
// is over (a layer's solve in a worker, a compression driver stage) a collection hands them back
// before the next phase allocates its own. gc is exposed in a fresh context only (the flag does
// not leak into user code).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
export const collectGarbage = runInNewContext('gc') as () => void;
