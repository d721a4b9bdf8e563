/**
 * `cleave auth keys …`: API keys of a deployment, managed on the host that holds its data dir (the key store is a
 * SQLite file under dataDir/auth/, read by every gateway process; a revocation takes effect within a second).
 * A new key is printed once on stdout; only its hash is kept.
 */
import { ApiKeyStore, keyStorePath } from "../runtime/security/api-keys";
import { CliError, parse } from "./args";
import { deploymentDataDir } from "./deployment-files";

const USAGE = `Usage: cleave auth keys COMMAND [--config FILE] [--json]
  create --name NAME --roles a,b   create a key; printed once on stdout (only its hash is stored)
  list                             keys with their roles and state (never the keys themselves)
  revoke ID|NAME                   revoke a key (all active keys of that name)`;

export async function authCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    config: { type: "string", short: "c" },
    name: { type: "string", short: "n" },
    roles: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const [group, command, target] = positionals;
  if (values.help || group === "help" || group === undefined) {
    console.log(USAGE);
    return 0;
  }
  if (group !== "keys") throw new CliError(`unknown auth command "${group}"\n${USAGE}`);
  const store = new ApiKeyStore(keyStorePath(await deploymentDataDir(values.config)));
  try {
    switch (command) {
      case "create": {
        if (!values.name) throw new CliError("auth keys create needs --name NAME");
        const roles = (values.roles ?? "").split(",").map((r) => r.trim()).filter(Boolean);
        const { id, key } = store.create(values.name, roles);
        if (values.json) console.log(JSON.stringify({ id, name: values.name, roles, key }));
        else {
          console.error(`created key ${id} "${values.name}" with roles ${roles.join(", ") || "(none)"}; it is shown once:`);
          console.log(key);
        }
        return 0;
      }
      case "list": {
        const keys = store.list();
        if (values.json) console.log(JSON.stringify(keys));
        else for (const k of keys) console.log(`${k.id}\t${k.name}\t${k.roles.join(",") || "-"}\t${k.createdAt}\t${k.revokedAt ? `revoked ${k.revokedAt}` : "active"}`);
        return 0;
      }
      case "revoke": {
        if (!target) throw new CliError("auth keys revoke needs the key's ID or NAME");
        const n = store.revoke(target);
        if (n === 0) throw new CliError(`no active key has id or name "${target}"`, 1);
        console.error(`revoked ${n} key${n === 1 ? "" : "s"}`);
        return 0;
      }
      default:
        throw new CliError(`unknown auth keys command "${command ?? ""}"\n${USAGE}`);
    }
  } finally {
    store.close();
  }
}
