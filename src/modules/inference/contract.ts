/** The inference module's public contract: the only part of it other modules and the gateway may import. */
import { Type as T } from "@sinclair/typebox";
import { defineContract } from "../../runtime/contract";
import { pingOperation, pingRoute } from "../../runtime/ping";

export const inferenceContract = defineContract({
  name: "inference",
  description: "Serves ONNX models behind the Open Inference Protocol v2 with adaptive batching.",
  operations: { ping: pingOperation },
  events: {},
  routes: [pingRoute("inference")],
  config: T.Object({}, { additionalProperties: false }),
});
