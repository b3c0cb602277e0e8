// The one file that loads the native ONNX Runtime binding (as ORT JS keeps its binding in one
// place). Everything else in the engine reaches ORT through runtime/.
import * as ort from 'onnxruntime-node';

// ORT's native logger prints provider-loading failures (e.g. CUDA absent) to stderr before
// throwing; Recall reports those itself (providers.ts / session.ts), so only fatal logs pass.
ort.env.logLevel = 'fatal';

export { ort };
