// Models & settings: the profiles (keys shown only as environment variable NAMES), their
// probed capabilities, role assignment and the theme. The launcher supplies the port.
import React, { useEffect, useState } from "react";
import { Box, Text } from "ink";
import { oneLine } from "../../errors.js";
import { useActions, useUi } from "../context.js";
import { keyFor } from "../keys.js";
import { fitWidth, padTo, sanitize } from "../sanitize.js";
import { useTheme } from "../theme.js";
import { R } from "../widgets/text.js";

export const ROLE_CYCLE = ["generator", "evaluator", "target", "none"] as const;
export type RoleChoice = (typeof ROLE_CYCLE)[number];

export interface ProfileRow {
  name: string;
  backend: string;
  model: string;
  /** Name of the env var holding the key (never its value). */
  apiKeyEnv?: string;
  roles: string[];
  capabilities?: string;
}

export interface SettingsPort {
  profiles(): ProfileRow[];
  /** Give the profile this one role among generator/evaluator/target ("none" removes them). */
  assignRole(profile: string, role: RoleChoice): void;
  probe(profile: string, signal: AbortSignal): Promise<string>;
  themes: string[];
  theme(): string;
  setTheme(name: string): void;
  /** Where settings live (shown so users can find the file). */
  path?: string;
}

export function SettingsScreen({ port }: { port?: SettingsPort }) {
  const { width, height, bindings, store } = useUi();
  const t = useTheme();
  const [rows, setRows] = useState<ProfileRow[]>([]);
  const [sel, setSel] = useState(0);
  const [note, setNote] = useState("");
  const [probing, setProbing] = useState<AbortController | null>(null);
  const refresh = () => {
    try {
      setRows(port?.profiles() ?? []);
    } catch (e) {
      setNote(oneLine(e));
    }
  };
  useEffect(refresh, [port]);

  useActions((action) => {
    const row = rows[sel];
    switch (action) {
      case "up":
      case "down":
        setSel((i) => Math.max(0, Math.min(rows.length - 1, i + (action === "up" ? -1 : 1))));
        return true;
      case "assign-role": {
        if (!row || !port) return true;
        const current = ROLE_CYCLE.findIndex((r) => row.roles.includes(r));
        const next = ROLE_CYCLE[(current + 1) % ROLE_CYCLE.length];
        try {
          port.assignRole(row.name, next);
          setNote(`${row.name}: ${next}`);
        } catch (e) {
          setNote(oneLine(e));
        }
        refresh();
        return true;
      }
      case "probe": {
        if (!row || !port || probing) return true;
        const ctrl = new AbortController();
        setProbing(ctrl);
        setNote(`probing ${row.name}…`);
        port
          .probe(row.name, ctrl.signal)
          .then((r) => setNote(`${row.name}: ${r}`), (e) => setNote(`${row.name}: ${oneLine(e)}`))
          .finally(() => (setProbing(null), refresh()));
        return true;
      }
      case "cancel":
        probing?.abort();
        return true;
      case "theme": {
        if (!port) return true;
        const i = port.themes.indexOf(port.theme());
        const next = port.themes[(i + 1) % port.themes.length];
        try {
          port.setTheme(next);
          store.getState().setStatus(`theme ${next} (applies on next start)`);
        } catch (e) {
          setNote(oneLine(e));
        }
        return true;
      }
      default:
        return false;
    }
  });

  if (!port) return <R role="muted">Settings are not available in this mode.</R>;
  const nameW = 14;
  const roleW = 10;
  const capW = Math.max(8, width - nameW - roleW - 30);
  return (
    <Box flexDirection="column" height={height}>
      <R role="title">{fitWidth(`Models · theme ${port.theme()}${port.path ? ` · ${port.path}` : ""}`, width)}</R>
      <R role="muted">{fitWidth(`${keyFor(bindings, "assign-role")}: cycle role  ${keyFor(bindings, "probe")}: probe  ${keyFor(bindings, "theme")}: theme`, width)}</R>
      {rows.length === 0 ? <R role="muted">No profiles. Add one with `concord models add` or a --models file.</R> : null}
      {rows.map((r, i) => (
        <Text key={r.name} wrap="truncate-end" {...(i === sel ? t.roles.selection : t.roles.text)}>
          {padTo(fitWidth(r.name, nameW), nameW + 1)}
          {padTo(fitWidth(r.roles.join(",") || "-", roleW), roleW + 1)}
          {padTo(fitWidth(`${r.backend}:${sanitize(r.model, { multiline: false })}`, 26), 27)}
          {fitWidth(`${r.apiKeyEnv ? `$${r.apiKeyEnv} ` : ""}${r.capabilities ?? "not probed"}`, capW)}
        </Text>
      ))}
      {note ? <R role="accent">{fitWidth(sanitize(note, { multiline: false }), width)}</R> : null}
    </Box>
  );
}
