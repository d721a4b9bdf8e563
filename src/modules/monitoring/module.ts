/** The monitoring module's implementation, started by the runtime in whichever process the config places it. */
import { defineModule } from "../../runtime/contract";
import { ping } from "../../runtime/ping";
import { monitoringContract } from "./contract";

export default defineModule(monitoringContract, () => ({
  handlers: { ping: ping("monitoring") },
}));
