// The Models screen's data: the profiles as the settings port lists them, a one-line note, and
// the probe in flight (cancellable), kept apart from how the screen draws them.
import { useCallback, useEffect, useState } from "react";
import { oneLine } from "../../errors.js";
import { usePorts } from "../context.js";
import type { ProfileRow, RoleName, SettingsPort } from "../ports.js";

export interface ProfilesView {
  port: SettingsPort | undefined;
  rows: ProfileRow[];
  note: string;
  setNote(note: string): void;
  refresh(): void;
  probing: boolean;
  probe(name: string): void;
  cancelProbe(): void;
  toggleRole(name: string, role: RoleName): void;
}

function read(port: SettingsPort | undefined): { rows: ProfileRow[]; note: string } {
  try {
    return { rows: port?.profiles() ?? [], note: "" };
  } catch (e) {
    return { rows: [], note: oneLine(e) };
  }
}

export function useProfiles(): ProfilesView {
  const { settings: port } = usePorts();
  // Read at once (the port answers synchronously): a key pressed right after the screen opens
  // already finds the profiles it moves between.
  const [first] = useState(() => read(port));
  const [rows, setRows] = useState<ProfileRow[]>(first.rows);
  const [note, setNote] = useState(first.note);
  const [probing, setProbing] = useState<AbortController | null>(null);
  const refresh = useCallback(() => {
    try {
      setRows(port?.profiles() ?? []);
    } catch (e) {
      setNote(oneLine(e));
    }
  }, [port]);
  useEffect(refresh, [refresh]);
  return {
    port,
    rows,
    note,
    setNote,
    refresh,
    probing: !!probing,
    probe(name) {
      if (!port || probing) return;
      const ctrl = new AbortController();
      setProbing(ctrl);
      setNote(`probing ${name}…`);
      void port
        .probe(name, ctrl.signal)
        .then(
          (r) => setNote(`${name}: ${r}`),
          (e) => setNote(`${name}: ${oneLine(e)}`),
        )
        .finally(() => (setProbing(null), refresh()));
    },
    cancelProbe: () => probing?.abort(),
    toggleRole(name, role) {
      if (!port) return;
      try {
        port.toggleRole(name, role);
        const now = port.profiles().find((r) => r.name === name);
        setNote(`${name}: ${now?.roles.includes(role) ? "now" : "no longer"} ${role}; roles ${now?.roles.join(", ") || "none"}`);
      } catch (e) {
        setNote(oneLine(e));
      }
      refresh();
    },
  };
}
