/** The ingestion module's implementation, started by the runtime in whichever process the config places it. */
import { defineModule } from "../../runtime/contract";
import { ping } from "../../runtime/ping";
import { ingestionContract } from "./contract";

export default defineModule(ingestionContract, () => ({
  handlers: { ping: ping("ingestion") },
}));
