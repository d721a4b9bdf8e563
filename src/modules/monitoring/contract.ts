/** The monitoring module's public contract: the only part of it other modules and the gateway may import. */
import { Type as T } from "@sinclair/typebox";
import { defineContract } from "../../runtime/contract";
import { pingOperation, pingRoute } from "../../runtime/ping";

export const monitoringContract = defineContract({
  name: "monitoring",
  description: "Metrics, traces, drift and data quality, live accuracy and alerts.",
  operations: { ping: pingOperation },
  events: {},
  routes: [pingRoute("monitoring")],
  config: T.Object({}, { additionalProperties: false }),
});
