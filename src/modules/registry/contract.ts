/** The registry module's public contract: the only part of it other modules and the gateway may import. */
import { Type as T } from "@sinclair/typebox";
import { defineContract } from "../../runtime/contract";
import { pingOperation, pingRoute } from "../../runtime/ping";

export const registryContract = defineContract({
  name: "registry",
  description: "Model versions, artifacts, aliases, approvals, signatures and rollback.",
  operations: { ping: pingOperation },
  events: {},
  routes: [pingRoute("registry")],
  config: T.Object({}, { additionalProperties: false }),
});
