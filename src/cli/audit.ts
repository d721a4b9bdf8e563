/**
 * `cleave audit verify`: walks the hash chain of the audit log under the deployment's data dir and exits 1 at the
 * first record that was edited, removed or reordered. It prints the head hash: noted elsewhere (a ticket, another
 * system), it lets a later check prove the log was not rewritten from that point on either.
 */
import { existsSync } from "node:fs";
import { auditPath, verifyAuditChain } from "../runtime/security/audit";
import { CliError, parse } from "./args";
import { deploymentDataDir } from "./deployment-files";

const USAGE = `Usage: cleave audit verify [--config FILE | --file AUDIT.db] [--json]`;

export async function auditCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    config: { type: "string", short: "c" },
    file: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help || positionals[0] === "help" || positionals[0] === undefined) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== "verify") throw new CliError(`unknown audit command "${positionals[0]}"\n${USAGE}`);
  const file = values.file ?? auditPath(await deploymentDataDir(values.config));
  if (!existsSync(file)) throw new CliError(`no audit log at ${file}`, 1);
  const result = verifyAuditChain(file);
  if (values.json) console.log(JSON.stringify(result));
  else if (result.ok) {
    console.log(`ok: ${result.records} records (${result.firstSeq ?? "-"}…${result.lastSeq ?? "-"}) chain intact; head ${result.head ?? "-"}`);
  } else {
    console.log(`BROKEN at record ${result.broken!.seq}: ${result.broken!.reason} (${result.records} records verified before it)`);
  }
  return result.ok ? 0 : 1;
}
