// Models & settings: the profiles (keys shown only as environment variable NAMES), their
// probed capabilities, the roles saved for each (a set: a profile may generate, evaluate and
// answer as a target at once), the theme, and a form to add, edit or remove profiles.
// The entry supplies the port (src/app/ports/settings-port.ts).
import { useRef, useState } from "react";
import { Box, Text } from "ink";
import { oneLine } from "../../errors.js";
import { useActions, useUi, useUnboundKeys } from "../context.js";
import { keyFor } from "../keys.js";
import { checkKeyEnvField, emptyDraft, formFields, type ProfileDraft } from "../profile-form.js";
import { fitWidth, padTo, sanitize } from "../sanitize.js";
import { useTheme } from "../theme.js";
import { R } from "../widgets/text.js";
import { PlainTable } from "../widgets/plain-table.js";
import { useList } from "../hooks/use-list.js";
import { useRemembered } from "../hooks/view-memory.js";
import { useProfiles } from "../hooks/use-profiles.js";
import { ROLE_NAMES } from "../ports.js";

export type { ProfileRow, SettingsPort } from "../ports.js";

interface FormState {
  /** The name being edited; undefined when adding. */
  original?: string;
  draft: ProfileDraft;
  /** Selected row: a field, or fields.length for "save". */
  row: number;
}

const UNSET: Partial<Record<keyof ProfileDraft, string>> = { flavor: "(detect)", thinkingFormat: "(guess)", apiKeyEnv: "(none)", model: "(default)" };

const ROLE_HEAD: Record<(typeof ROLE_NAMES)[number], string> = { generator: "gen", evaluator: "eval", target: "target" };

export function SettingsScreen() {
  const { width, height, bindings, store, prompt } = useUi();
  const profiles = useProfiles();
  const { port, rows, note, setNote, refresh } = profiles;
  // Title, keys, table heading, note: four rows around the list.
  const list = useList({ items: rows, rows: Math.max(1, height - 4), memory: "settings:profiles" });
  const sel = list.cursor;
  const [roleAt, setRoleAt] = useRemembered("settings:role", 0);
  const [form, setForm] = useState<FormState | null>(null);
  const say = (text: string) => store.getState().setStatus(text);

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
    list.setCursor(sel - 1);
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
    if (list.act(action)) return true;
    const row = list.selected;
    switch (action) {
      case "focus-next":
        setRoleAt((i) => (i + 1) % ROLE_NAMES.length);
        return true;
      case "assign-role":
        if (row) profiles.toggleRole(row.name, ROLE_NAMES[roleAt]);
        return true;
      case "probe":
        if (row) profiles.probe(row.name);
        return true;
      case "cancel":
        profiles.cancelProbe();
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
        if (!port?.saveProfile) return (say("profiles cannot be changed in this mode"), true);
        setForm({ draft: emptyDraft(), row: 0 });
        setNote("");
        say("");
        return true;
      case "edit-profile": {
        if (!row || !port?.saveProfile || !port.draft) return true;
        const draft = port.draft(row.name);
        if (!draft) return (say(`error: no profile named "${row.name}"`), true);
        setForm({ original: row.name, draft, row: 0 });
        setNote("");
        say("");
        return true;
      }
      case "remove-profile":
        if (!row || !port?.removeProfile) return true;
        if (!row.saved) return (say(`"${row.name}" is not saved in settings (it comes from the environment or a models file); nothing to remove`), true);
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
  const k = (a: Parameters<typeof keyFor>[1]) => keyFor(bindings, a);
  const role = ROLE_NAMES[roleAt];
  const line = (s: string) => sanitize(s, { multiline: false });
  const { start, end } = list.window;
  const table = rows
    .slice(start, end)
    .map((r) => [
      r.name,
      ...ROLE_NAMES.map((x) => (r.roles.includes(x) ? "✓" : "·")),
      `${r.backend}:${r.model}`,
      `${r.apiKeyEnv ? `$${r.apiKeyEnv} ` : ""}${r.capabilities ?? "not probed"}${r.saved ? "" : " · not saved"}${r.active === false ? " · not open yet" : ""}`,
    ]);
  const modelW = Math.max(8, Math.min(30, Math.floor((width - 40) / 2)));
  return (
    <Box flexDirection="column" height={height}>
      <R role="title">{fitWidth(`Models · theme ${port.theme()}${port.path ? ` · ${port.path}` : ""}`, width)}</R>
      <R role="muted">
        {fitWidth(
          `${k("focus-next")}: role column  ${k("assign-role")}: toggle ${role}  ${k("probe")}: probe  ${k("add-profile")}: add  ${k("edit-profile")}: edit  ${k("remove-profile")}: remove  ${k("theme")}: theme`,
          width,
        )}
      </R>
      {rows.length === 0 ? (
        <R role="muted">{fitWidth(`No profiles. Press ${k("add-profile")} to add one (or use \`concord models add\`).`, width)}</R>
      ) : (
        <PlainTable
          columns={[
            { header: "profile", width: 14 },
            ...ROLE_NAMES.map((x) => ({ header: x === role ? `[${ROLE_HEAD[x]}]` : ROLE_HEAD[x], width: 8, align: "center" as const })),
            { header: "model", width: modelW },
            { header: "capabilities", width: Math.max(8, width - modelW - 14 - 3 * 10 - 3 - 8) },
          ]}
          rows={table}
          marker={sel - start}
        />
      )}
      {note ? <R role="accent">{fitWidth(line(note), width)}</R> : null}
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
        {fitWidth(
          `${keyFor(bindings, "up")}/${keyFor(bindings, "down")}: field  ${keyFor(bindings, "assign-role")}: edit or cycle, on [save] saves  ${keyFor(bindings, "cancel")}: cancel`,
          width,
        )}
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
