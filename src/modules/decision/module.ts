/** The decision module's implementation, started by the runtime in whichever process the config places it. */
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { type CallContext, defineModule } from "../../runtime/contract";
import { CleaveError, invalidArgument, notFound, unavailable } from "../../runtime/errors";
import { ping } from "../../runtime/ping";
// @ts-ignore: a text import embeds the example rule set in the binary; it is the default when none is configured.
import defaultRulesText from "../../../configs/rules/fraud-rules.yaml" with { type: "text" };
import { AuditStore } from "./audit";
import { type DecideInput, type DecisionConfig, type DecisionEvent, decisionContract, type DecideOutput } from "./contract";
import { createScorer } from "./pipeline";
import { compileRuleSet, parseRuleSetText, RuleSet, RuleSetError } from "./rules";
import { WebhookDispatcher } from "./webhooks";

const DAY_MS = 86_400_000;
const PURGE_SLICE = 5000;

interface Loaded {
  ruleSet: RuleSet;
  source: string;
  loadedAt: string;
}

export default defineModule(decisionContract, (ctx) => {
  const config = ctx.config as DecisionConfig;
  const log = ctx.log;
  const known = new Set(config.features);
  if (config.rules !== undefined && config.rulesFile !== undefined) {
    throw invalidArgument("modules.decision: give either rules (inline) or rulesFile, not both");
  }
  const rulesFile = config.rulesFile === undefined ? undefined : resolve(config.rulesFile);

  /** Reads the configured source: the rules file, the inline rules, or the embedded example set. */
  const readConfigured = async (): Promise<{ raw: unknown; source: string }> => {
    if (rulesFile) {
      const text = await readFile(rulesFile, "utf8").catch((err) => {
        throw invalidArgument(`rules file ${rulesFile} cannot be read: ${(err as Error).message}`);
      });
      return { raw: parseRuleSetText(text), source: rulesFile };
    }
    if (typeof config.rules === "string") return { raw: parseRuleSetText(config.rules), source: "modules.decision.rules" };
    if (config.rules !== undefined) return { raw: config.rules, source: "modules.decision.rules" };
    return { raw: parseRuleSetText(defaultRulesText as string), source: "built-in configs/rules/fraud-rules.yaml" };
  };

  const compile = (raw: unknown, source: string): Loaded => {
    try {
      return { ruleSet: compileRuleSet(raw, known), source, loadedAt: new Date().toISOString() };
    } catch (err) {
      if (err instanceof RuleSetError) {
        throw new RuleSetError(err.errors.map((e) => ({ ...e, path: `${source}: ${e.path}` })));
      }
      throw err;
    }
  };

  const info = (l: Loaded) => ({
    version: l.ruleSet.version,
    policy: l.ruleSet.policy,
    rules: l.ruleSet.rules.map((r) => r.id),
    source: l.source,
    loadedAt: l.loadedAt,
  });

  return (async () => {
    const initial = await readConfigured();
    let current = compile(initial.raw, initial.source);
    log.info({ version: current.ruleSet.version, policy: current.ruleSet.policy, source: current.source }, "rule set loaded");

    const audit = new AuditStore(join(ctx.dataDir, "decisions.sqlite"), config.audit, log);
    const webhooks = new WebhookDispatcher(config.webhooks, config.webhookQueueLimit, (...args) => audit.addDeadLetter(...args), log);

    // Deletes in slices, yielding between them, so that a large purge never stalls decisions for long.
    let purging = false;
    let stopped = false;
    const purge = async () => {
      if (purging) return;
      purging = true;
      try {
        const cutoff = Date.now() - config.audit.retentionDays * DAY_MS;
        let total = 0;
        let slice = PURGE_SLICE;
        while (slice === PURGE_SLICE && !stopped) {
          slice = await audit.purgeOlderThan(cutoff, PURGE_SLICE);
          total += slice;
          await new Promise((r) => setImmediate(r));
        }
        if (total) log.info({ deleted: total, retentionDays: config.audit.retentionDays }, "audit retention purge");
      } catch (err) {
        log.error({ err }, "audit retention purge failed");
      } finally {
        purging = false;
      }
    };
    await purge();
    const retention = setInterval(() => void purge(), config.audit.retentionCheckIntervalMs);
    retention.unref?.();

    const swap = (next: Loaded) => {
      const previous = current.ruleSet.version;
      current = next;
      log.info({ previous, version: next.ruleSet.version, source: next.source }, "rule set reloaded");
      return info(next);
    };

    let watcher: FSWatcher | undefined;
    if (config.watchRulesFile && rulesFile) {
      let debounce: ReturnType<typeof setTimeout> | undefined;
      // Watch the directory, not the file: editors save by writing a new file and renaming it over the old one.
      const name = basename(rulesFile);
      watcher = watch(dirname(rulesFile), (_, changed) => {
        if (changed !== name) return;
        clearTimeout(debounce);
        debounce = setTimeout(async () => {
          try {
            const { raw, source } = await readConfigured();
            swap(compile(raw, source));
          } catch (err) {
            log.warn({ err: (err as Error).message }, "changed rules file refused; the current rule set stays");
          }
        }, 100);
      });
    }

    // No event id: a decision is published once, by the process that made it, and its decisionId is in the payload
    // for consumers that need to recognise a redelivery. Without an id, a turn's decisions travel together over NATS.
    const publish = (event: "decision.made" | "decision.alert", payload: DecisionEvent) => {
      ctx.bus.publish(decisionContract, event, payload).catch((err) => {
        log.warn({ err: (err as Error).message, event }, "decision event not published");
      });
      webhooks.dispatch(event, payload.decisionId, payload);
    };

    const decide = (input: DecideInput, call: CallContext): DecideOutput => {
      if (audit.saturated) {
        throw unavailable(`the audit trail is not keeping up (${audit.pending} records waiting to be written); retry later`, {
          retryAfterSeconds: 1,
        });
      }
      const started = performance.now();
      const l = current; // one rule set for the whole decision, even if a reload lands meanwhile
      const ev = l.ruleSet.evaluate(input);
      const decisionId = Bun.randomUUIDv7();
      const now = Date.now();
      const modelVersion = String(input.model.version);
      const out: DecideOutput = {
        decisionId,
        decision: ev.decision,
        reasons: ev.reasons,
        rulesFired: ev.rulesFired,
        ruleSetVersion: l.ruleSet.version,
        policy: l.ruleSet.policy,
      };
      if (ev.ruleScore !== undefined) out.ruleScore = ev.ruleScore;
      audit.record({
        id: decisionId,
        at: now,
        decision: ev.decision,
        score: input.score,
        modelName: input.model.name,
        modelVersion,
        ruleSetVersion: l.ruleSet.version,
        rulesFired: ev.rulesFired,
        reasons: ev.reasons,
        transaction: input.transaction,
        features: input.features ?? {},
        latencyUs: Math.round((performance.now() - started) * 1000),
        caller: call.identity?.id ?? null,
        traceId: call.traceId,
      });
      const txId = input.transaction.id;
      const event: DecisionEvent = {
        decisionId,
        decision: ev.decision,
        score: input.score,
        model: { name: input.model.name, version: modelVersion },
        ruleSetVersion: l.ruleSet.version,
        rulesFired: ev.rulesFired.map((r) => r.id),
        reasons: ev.reasons,
        transactionId: txId === undefined || txId === null ? null : String(txId),
        at: new Date(now).toISOString(),
      };
      publish("decision.made", event);
      if (ev.decision !== "approve") publish("decision.alert", event);
      return out;
    };

    return {
      handlers: {
        ping: ping("decision"),
        decide,
        score: createScorer(ctx.bus, config.pipeline, decide, log, ctx.metrics),
        async reloadRules(input) {
          try {
            if (input.ruleSet !== undefined && input.text !== undefined) throw invalidArgument("give ruleSet or text, not both");
            if (input.ruleSet !== undefined) return swap(compile(input.ruleSet, "api"));
            if (input.text !== undefined) return swap(compile(parseRuleSetText(input.text), "api"));
            const { raw, source } = await readConfigured();
            return swap(compile(raw, source));
          } catch (err) {
            if (err instanceof CleaveError) {
              log.warn({ err: err.message, kept: current.ruleSet.version }, "rule set refused; the current one stays");
            }
            throw err;
          }
        },
        getRules: () => info(current),
        async getDecision({ id }) {
          const record = await audit.get(id);
          if (!record) throw notFound(`no decision with id "${id}"`);
          return record;
        },
        async overrideDecision({ id, decision, reason, analyst }, call) {
          const who = analyst ?? call.identity?.id ?? null;
          if (!(await audit.override(id, decision, reason, who))) throw notFound(`no decision with id "${id}"`);
          return (await audit.get(id))!;
        },
        deadLetters: ({ limit }) => audit.deadLetters(limit ?? 100),
      },
      health: () => {
        const auditWritesFailing = audit.writesFailing;
        return {
          status: audit.saturated || auditWritesFailing ? ("degraded" as const) : ("ok" as const),
          details: {
            ruleSetVersion: current.ruleSet.version,
            auditPending: audit.pending,
            webhookPending: webhooks.pending,
            ...(auditWritesFailing && { auditWritesFailing }),
          },
        };
      },
      async stop() {
        stopped = true;
        clearInterval(retention);
        watcher?.close();
        await webhooks.close();
        await audit.close();
      },
    };
  })();
});
