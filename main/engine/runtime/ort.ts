// The one file that loads the native ONNX Runtime binding (as ORT JS keeps its binding in one
// place). Everything else in the engine reaches ORT through runtime/.
import * as ort from 'onnxruntime-node';

export { ort };
