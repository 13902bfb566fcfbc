// Models & settings: the profiles (keys shown only as environment variable NAMES), their
// probed capabilities, role assignment, the theme, and a form to add, edit or remove profiles.
// The launcher supplies the port (src/ui/settings-port.ts).
import { useEffect, useRef, useState } from "react";
import { Box, Text } from "ink";
import { oneLine } from "../../errors.js";
import { useActions, useUi, useUnboundKeys } from "../context.js";
import { keyFor } from "../keys.js";
import { checkKeyEnvField, emptyDraft, formFields, type ProfileDraft } from "../profile-form.js";
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
  /** Saved in settings (so it can be removed here). */
  saved?: boolean;
  /** Opened at start (false: races use it from the next start). */
  active?: boolean;
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
  /** The form values of a profile, for editing. */
  draft?(name: string): ProfileDraft | undefined;
  /** Check and save a profile (`replacing`: the name being edited). Returns a one-line note; throws one line naming the field. */
  saveProfile?(draft: ProfileDraft, replacing?: string): string;
  /** Remove a saved profile (and its name from the roles). Returns a one-line note. */
  removeProfile?(name: string): string;
}

interface FormState {
  /** The name being edited; undefined when adding. */
  original?: string;
  draft: ProfileDraft;
  /** Selected row: a field, or fields.length for "save". */
  row: number;
}

const UNSET: Partial<Record<keyof ProfileDraft, string>> = { flavor: "(detect)", thinkingFormat: "(guess)", apiKeyEnv: "(none)", model: "(default)" };

export function SettingsScreen({ port }: { port?: SettingsPort }) {
  const { width, height, bindings, store, prompt } = useUi();
  const t = useTheme();
  const [rows, setRows] = useState<ProfileRow[]>([]);
  const [sel, setSel] = useState(0);
  const [note, setNote] = useState("");
  const [probing, setProbing] = useState<AbortController | null>(null);
  const [form, setForm] = useState<FormState | null>(null);
  const say = (text: string) => store.getState().setStatus(text);
  const refresh = () => {
    try {
      setRows(port?.profiles() ?? []);
    } catch (e) {
      setNote(oneLine(e));
    }
  };
  useEffect(refresh, [port]);

  // The y/n answer to "remove?": keys the binding table leaves alone here. A ref, because the
  // answer may come in the same burst as the question, before a redraw.
  const asking = useRef<string | null>(null);
  const ask = (name: string | null) => {
    asking.current = name;
  };
  const answer = (yes: boolean) => {
    const name = asking.current;
    if (name === null) return;
    ask(null);
    if (!yes) return say(`kept "${name}"`);
    try {
      say(port!.removeProfile!(name));
    } catch (e) {
      say(`error: ${oneLine(e)}`);
    }
    setSel((i) => Math.max(0, i - 1));
    refresh();
  };
  useUnboundKeys((k) => {
    if (asking.current === null) return false;
    answer(k === "y" || k === "Y");
    return true;
  });

  const formAction = (f: FormState, action: string): boolean => {
    const fields = formFields(f.draft);
    switch (action) {
      case "up":
      case "down": {
        const row = Math.max(0, Math.min(fields.length, f.row + (action === "up" ? -1 : 1)));
        setForm({ ...f, row });
        return true;
      }
      case "assign-role": {
        if (f.row >= fields.length) {
          try {
            say(port!.saveProfile!(f.draft, f.original));
            setForm(null);
            refresh();
          } catch (e) {
            say(`error: ${oneLine(e)}`);
          }
          return true;
        }
        const field = fields[f.row];
        if (field.choices) {
          const i = field.choices.indexOf(f.draft[field.key]);
          const value = field.choices[(i + 1) % field.choices.length];
          const draft = { ...f.draft, [field.key]: value } as ProfileDraft;
          setForm({ ...f, draft, row: Math.min(f.row, formFields(draft).length) });
          return true;
        }
        prompt({
          label: field.label,
          initial: f.draft[field.key],
          onSubmit: (v) => {
            let value = v.trim();
            if (field.key === "apiKeyEnv") {
              try {
                value = checkKeyEnvField(value);
              } catch (e) {
                // Refused before it reaches the form: it is never shown or saved.
                return say(`error: ${oneLine(e)}`);
              }
            }
            setForm((cur) => (cur ? { ...cur, draft: { ...cur.draft, [field.key]: value } } : cur));
            say("");
          },
        });
        return true;
      }
      case "cancel":
        setForm(null);
        say(f.original ? `"${f.original}" unchanged` : "no profile added");
        return true;
      default:
        // Other keys of this screen wait until the form is closed.
        return action !== "help";
    }
  };

  useActions((action) => {
    if (asking.current !== null) {
      // Any key but y keeps the profile.
      answer(false);
      return true;
    }
    if (form) return formAction(form, action);
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
          say(`theme ${next} (applies on next start)`);
        } catch (e) {
          setNote(oneLine(e));
        }
        return true;
      }
      case "add-profile":
        if (!port?.saveProfile) return say("profiles cannot be changed in this mode"), true;
        setForm({ draft: emptyDraft(), row: 0 });
        setNote("");
        say("");
        return true;
      case "edit-profile": {
        if (!row || !port?.saveProfile || !port.draft) return true;
        const draft = port.draft(row.name);
        if (!draft) return say(`error: no profile named "${row.name}"`), true;
        setForm({ original: row.name, draft, row: 0 });
        setNote("");
        say("");
        return true;
      }
      case "remove-profile":
        if (!row || !port?.removeProfile) return true;
        if (!row.saved) return say(`"${row.name}" is not saved in settings (it comes from the environment or a models file); nothing to remove`), true;
        ask(row.name);
        setNote("");
        say(`remove "${row.name}" from settings? y/n`);
        return true;
      default:
        return false;
    }
  });

  if (!port) return <R role="muted">Settings are not available in this mode.</R>;
  if (form) return <ProfileForm form={form} width={width} height={height} />;
  const nameW = 14;
  const roleW = 10;
  const capW = Math.max(8, width - nameW - roleW - 30);
  const k = (a: Parameters<typeof keyFor>[1]) => keyFor(bindings, a);
  return (
    <Box flexDirection="column" height={height}>
      <R role="title">{fitWidth(`Models · theme ${port.theme()}${port.path ? ` · ${port.path}` : ""}`, width)}</R>
      <R role="muted">
        {fitWidth(`${k("assign-role")}: cycle role  ${k("probe")}: probe  ${k("add-profile")}: add  ${k("edit-profile")}: edit  ${k("remove-profile")}: remove  ${k("theme")}: theme`, width)}
      </R>
      {rows.length === 0 ? <R role="muted">{`No profiles. Press ${k("add-profile")} to add one (or use \`concord models add\`).`}</R> : null}
      {rows.map((r, i) => (
        <Text key={r.name} wrap="truncate-end" {...(i === sel ? t.roles.selection : t.roles.text)}>
          {padTo(fitWidth(sanitize(r.name, { multiline: false }), nameW), nameW + 1)}
          {padTo(fitWidth(r.roles.join(",") || "-", roleW), roleW + 1)}
          {padTo(fitWidth(`${r.backend}:${sanitize(r.model, { multiline: false })}`, 26), 27)}
          {fitWidth(`${r.apiKeyEnv ? `$${r.apiKeyEnv} ` : ""}${r.capabilities ?? "not probed"}${r.active === false ? " · from next start" : ""}`, capW)}
        </Text>
      ))}
      {note ? <R role="accent">{fitWidth(sanitize(note, { multiline: false }), width)}</R> : null}
    </Box>
  );
}

function ProfileForm({ form, width, height }: { form: FormState; width: number; height: number }) {
  const { bindings } = useUi();
  const t = useTheme();
  const fields = formFields(form.draft);
  const labelW = 17;
  const selected = fields[form.row];
  return (
    <Box flexDirection="column" height={height}>
      <R role="title">{fitWidth(form.original ? `Models · edit "${sanitize(form.original, { multiline: false })}"` : "Models · add a profile", width)}</R>
      <R role="muted">
        {fitWidth(`${keyFor(bindings, "up")}/${keyFor(bindings, "down")}: field  ${keyFor(bindings, "assign-role")}: edit or cycle, on [save] saves  ${keyFor(bindings, "cancel")}: cancel`, width)}
      </R>
      {fields.map((f, i) => {
        const raw = form.draft[f.key];
        const value = raw ? sanitize(f.key === "apiKeyEnv" ? `$${raw}` : raw, { multiline: false }) : (UNSET[f.key] ?? "(empty)");
        return (
          <Text key={f.key} wrap="truncate-end" {...(i === form.row ? t.roles.selection : t.roles.text)}>
            {padTo(fitWidth(f.label, labelW - 1), labelW)}
            {fitWidth(value + (f.choices ? "  ↵ cycles" : ""), Math.max(4, width - labelW))}
          </Text>
        );
      })}
      <Text wrap="truncate-end" {...(form.row >= fields.length ? t.roles.selection : t.roles.accent)}>
        {"[ save ]"}
      </Text>
      <R role="muted">{fitWidth(selected ? selected.hint : "save the profile to settings (keys only as variable NAMES)", width)}</R>
    </Box>
  );
}
