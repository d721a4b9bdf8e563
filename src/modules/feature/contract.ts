/** The feature module's public contract: the only part of it other modules and the gateway may import. */
import { Type as T } from "@sinclair/typebox";
import { defineContract } from "../../runtime/contract";
import { pingOperation, pingRoute } from "../../runtime/ping";

export const featureContract = defineContract({
  name: "feature",
  description: "Turns events into per-entity windowed features: online store and point-in-time-correct exports.",
  operations: { ping: pingOperation },
  events: {},
  routes: [pingRoute("feature")],
  config: T.Object({}, { additionalProperties: false }),
});
