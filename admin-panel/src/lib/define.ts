/** Registers an element once: Open WebUI may run the loader again after client-side navigation. */
export function define(name: string, element: CustomElementConstructor): void {
  if (!customElements.get(name)) customElements.define(name, element);
}
