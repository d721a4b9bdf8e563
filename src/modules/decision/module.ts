/** The decision module's implementation, started by the runtime in whichever process the config places it. */
import { defineModule } from "../../runtime/contract";
import { ping } from "../../runtime/ping";
import { decisionContract } from "./contract";

export default defineModule(decisionContract, () => ({
  handlers: { ping: ping("decision") },
}));
