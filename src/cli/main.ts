#!/usr/bin/env bun
/**
 * The `cleave` command. With no arguments it runs the embedded default (the monolith config built into the binary).
 */
import { VERSION } from "../runtime/version";
import { demoCommand } from "./demo";
import { featuresCommand } from "./features";
import { serveCommand } from "./serve";
import { trainCommand } from "./train";
import { upCommand } from "./up";
import { modelsCommand } from "./models";
import { authCommand } from "./auth";
import { auditCommand } from "./audit";
import { CliError, fail } from "./args";

const HELP = `cleave ${VERSION} — ingestion, features, ONNX inference, decisions, registry and monitoring in one binary

Usage:
  cleave [serve] [--config FILE] [--modules a,b] [--http-port N | --no-http] [--name NAME]
        run modules of a deployment in this process (default: the embedded monolith config)
  cleave up --config FILE      start a whole split topology locally (children + nats-server); Ctrl-C stops it
  cleave models <push|list|show|approve|alias|rollback|history|verify|keygen> …
                               the model registry of a running deployment (cleave models help)
  cleave auth keys <create --name N --roles a,b|list|revoke ID|NAME> [--config FILE]
                               API keys of a deployment (stored as hashes under dataDir/auth/)
  cleave audit verify [--config FILE | --file F]
                               check the audit log's hash chain; exit 1 at an edited or missing record
  cleave train --seed N --out model.onnx
                               train the demo fraud model on simulated transactions
  cleave features export --config FILE --events FILE --labels FILE --out FILE
                               a point-in-time-correct training set, computed by the serving feature code
  cleave demo [--url URL] [-n N] [--concurrency C]
                               send simulated transactions to /v1/score and summarise the decisions
  cleave --version             print the version
  cleave help                  this text
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  up: upCommand,
  models: modelsCommand,
  train: trainCommand,
  features: featuresCommand,
  demo: demoCommand,
  auth: authCommand,
  audit: auditCommand,
};

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "--version" || first === "-v" || first === "version") {
    console.log(VERSION);
    return 0;
  }
  if (first === "help" || first === "--help" || first === "-h") {
    console.log(HELP);
    return 0;
  }
  if (first === undefined || first.startsWith("-")) return serveCommand(argv);
  const command = commands[first];
  if (!command) throw new CliError(`unknown command "${first}"; commands: ${Object.keys(commands).join(", ")}, help`);
  return command(rest);
}

const exit = (code: number) => {
  process.exit(code);
};

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) exit(code);
  },
  (err) => exit(fail(err)),
);
