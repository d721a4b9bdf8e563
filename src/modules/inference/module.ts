/** The inference module's implementation, started by the runtime in whichever process the config places it. */
import { defineModule } from "../../runtime/contract";
import { ping } from "../../runtime/ping";
import { inferenceContract } from "./contract";

export default defineModule(inferenceContract, () => ({
  handlers: { ping: ping("inference") },
}));
