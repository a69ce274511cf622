// The capture half of the SDK (rrweb's recorder and Tomoni's masking), in
// its own file so that pages load it only when a session starts.
import { Capture } from './capture';

declare global {
  interface Window { __tomoniCapture?: typeof Capture }
}

window.__tomoniCapture = Capture;
