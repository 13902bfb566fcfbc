// The ports the store drives, made from the opened models: a race per problem (a ChainBuilder
// and a TargetPanel) and the relay. The engine is loaded when the first race or relay starts,
// not before the interface's first frame.
import type { Chain } from "../core/chain.js";
import type { Problem } from "../core/types.js";
import type { EnsembleOptions } from "../engine/ensemble.js";
import type { OpenedModels } from "../engine/models.js";
import { UserError } from "../errors.js";
import type { RaceFactory, RaceHandle, RelayPort, Roles } from "../state/store.js";

export interface RaceSetup {
  /** Engine options fixed by the source (a trace's k, mode and length). */
  options?: Partial<EnsembleOptions>;
  /** A trace kept only its winners' scores: the others' missing scores are expected, not errors. */
  trace?: boolean;
}

/**
 * A resumed session races on its own models when every one of them is among the profiles
 * (the same names for the same files); otherwise on the configured roles, and the Race says
 * what differs.
 */
export function ownRoles(models: Pick<OpenedModels, "profiles" | "roles">, prefer?: Roles): Pick<Roles, "generators" | "evaluators" | "targets"> {
  if (!prefer?.generators.length || !prefer.evaluators.length) return models.roles;
  const known = new Map(models.profiles.map((p) => [p.name, p.path ?? p.model]));
  const names = [...prefer.generators, ...prefer.evaluators, ...prefer.targets];
  // A name saved with its file must still name that file.
  const same = (n: string) => known.has(n) && (!prefer.models?.[n] || prefer.models[n] === known.get(n));
  return names.every(same) ? { generators: prefer.generators, evaluators: prefer.evaluators, targets: prefer.targets } : models.roles;
}

export function raceFactory(models: OpenedModels, setup: RaceSetup = {}): RaceFactory {
  return async (problem: Problem, chain?: Chain, prefer?: Roles): Promise<RaceHandle> => {
    const [{ ChainBuilder }, { TargetPanel }, { NOT_SCORED }] = await Promise.all([
      import("../engine/ensemble.js"),
      import("../engine/targets.js"),
      import("../engine/trace-replay.js"),
    ]);
    const get = (names: string[]) => Promise.all(names.map((n) => models.get(n)));
    const roles = ownRoles(models, prefer);
    const [generators, evaluators, targets] = await Promise.all([get(roles.generators), get(roles.evaluators), get(roles.targets)]);
    const builder = new ChainBuilder({ k: 3, ...setup.options, problem, generators, evaluators, chain });
    const panel = targets.length ? new TargetPanel({ problem, targets }) : undefined;
    const off = panel?.attach(builder);
    return {
      builder,
      targets: panel,
      roles: {
        generators: generators.map((g) => g.name),
        evaluators: evaluators.map((e) => e.name),
        targets: targets.map((t) => t.name),
        models: Object.fromEntries(models.profiles.map((p) => [p.name, p.path ?? p.model])),
      },
      close: async () => {
        off?.();
        await panel?.cancel();
      },
      ...(setup.trace ? { ignoreError: (m: string) => m.includes(NOT_SCORED), recording: true } : {}),
    };
  };
}

/** The relay: the configured initiator (else the first generator) and continuers (else the targets). */
export function relayPort(models: OpenedModels): RelayPort {
  const roles = () => ({
    initiator: models.roles.initiator ?? models.roles.generators[0],
    continuers: models.roles.continuers?.length ? models.roles.continuers : models.roles.targets,
  });
  return {
    describe: roles,
    run: async (problem, req) => {
      const r = roles();
      if (!r.initiator) throw new UserError("no initiator: set roles.initiator (or a generator) in Models & settings");
      if (!r.continuers.length) throw new UserError("no continuers: set roles.continuers (or targets) in Models & settings");
      const { JudgeScorer, runRelay } = await import("../engine/relay.js");
      const [initiator, continuers, judge] = await Promise.all([
        models.get(r.initiator),
        Promise.all(r.continuers.map((n) => models.get(n))),
        models.roles.evaluators[0] ? models.get(models.roles.evaluators[0]) : Promise.resolve(undefined),
      ]);
      return runRelay({
        problem,
        initiator,
        continuers,
        cuts: req.cuts,
        signal: req.signal,
        onEvent: req.onEvent,
        scorer: judge ? new JudgeScorer(judge) : undefined,
      });
    },
  };
}
