// One listener list per engine object. A listener that throws must not break the engine.
import type { EngineEvent, EngineListener } from "./events.js";

export class Emitter {
  private listeners = new Set<EngineListener>();

  /** Subscribe; returns the unsubscribe function. */
  on(listener: EngineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A faulty listener (a UI bug) must not stop the chain being built.
      }
    }
  }
}
