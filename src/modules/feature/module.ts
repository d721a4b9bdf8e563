/** The feature module's implementation, started by the runtime in whichever process the config places it. */
import { defineModule } from "../../runtime/contract";
import { ping } from "../../runtime/ping";
import { featureContract } from "./contract";

export default defineModule(featureContract, () => ({
  handlers: { ping: ping("feature") },
}));
