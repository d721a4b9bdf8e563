/**
 * Authorization: which identity may call which operation (and model). The first rule matching the operation (and
 * model, when the rule names models) decides; admin roles may do everything; nothing matching means no. The same
 * policy object answers for the gateway and for modules (through `bus.authorize`), so a module can enforce the very
 * rules the gateway does, in whichever process it runs.
 */
import type { AuthConfig } from "../config/schema";
import type { CallContext, Identity } from "../contract";
import { CleaveError } from "../errors";

export interface Resource {
  /** `module.operation`, or `runtime.<route>` for the runtime's own routes. */
  operation: string;
  model?: string;
}

interface CompiledRule {
  operations: RegExp;
  models?: Set<string>;
  roles: Set<string>;
}

const glob = (patterns: string[]) =>
  new RegExp(`^(?:${patterns.map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")).join("|")})$`);

export class AccessPolicy {
  private readonly rules: CompiledRule[];
  private readonly adminRoles: Set<string>;

  constructor(config: Pick<AuthConfig, "rules" | "adminRoles">) {
    this.adminRoles = new Set(config.adminRoles);
    this.rules = config.rules.map((r) => ({
      operations: glob(r.operations),
      models: r.models ? new Set(r.models) : undefined,
      roles: new Set(r.roles),
    }));
  }

  /** Rules none of whose operation patterns names an operation of the deployment: a typo denies silently. */
  unmatchedRules(operations: string[]): number[] {
    return this.rules.flatMap((r, i) => (operations.some((op) => r.operations.test(op)) ? [] : [i]));
  }

  allows(identity: Identity, resource: Resource): boolean {
    if (identity.roles.some((r) => this.adminRoles.has(r))) return true;
    for (const rule of this.rules) {
      if (!rule.operations.test(resource.operation)) continue;
      if (rule.models && (resource.model === undefined || !rule.models.has(resource.model))) continue;
      return identity.roles.some((r) => rule.roles.has(r));
    }
    return false;
  }

  /** Throws 401 without an identity and 403 without the right; the message names the request, not the rules. */
  check(identity: Identity | undefined, resource: Resource): void {
    if (!identity) throw unauthenticated();
    if (!this.allows(identity, resource)) throw forbidden(resource);
  }
}

export const unauthenticated = () =>
  new CleaveError("UNAUTHENTICATED", "authentication required: send an API key or a JWT as `Authorization: Bearer …`");

export const forbidden = (resource: Resource) =>
  new CleaveError(
    "PERMISSION_DENIED",
    `not allowed to call ${resource.operation}${resource.model ? ` on model ${resource.model}` : ""}`,
  );

/**
 * For module handlers: enforce the deployment's rules on the call being served, wherever it came from. A call with
 * no identity is allowed only when the deployment has auth off (no policy) — with auth on, modules' own calls to
 * each other carry the identity of the request that caused them.
 */
export function authorizeCall(policy: AccessPolicy | undefined, ctx: Pick<CallContext, "identity">, resource: Resource): void {
  if (!policy) return;
  policy.check(ctx.identity, resource);
}
