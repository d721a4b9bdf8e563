/** The registry module's implementation, started by the runtime in whichever process the config places it. */
import { defineModule } from "../../runtime/contract";
import { ping } from "../../runtime/ping";
import { registryContract } from "./contract";

export default defineModule(registryContract, () => ({
  handlers: { ping: ping("registry") },
}));
