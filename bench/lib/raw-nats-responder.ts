/** A bare nats.js responder (no Cleave) in its own process: the floor for a NATS request/reply hop. */
import { connect } from "@nats-io/transport-node";

const nc = await connect({ servers: process.argv[2] });
nc.subscribe("bench.raw.echo", {
  callback: (_err, msg) => {
    msg.respond(msg.data);
  },
});
await nc.flush();
console.log("ready");
