// Model instances: one model at one set of hyperparameters. Pure functions over a `spec`, the
// list of hyperparameter fields the page was rendered with (ranges and defaults from the API).

import { shortModelName } from "../lib/format.js";

export const PARAMETERS = ["temperature", "top_p", "top_k", "repeat_penalty", "num_predict", "seed"];
// Always on a chip; the others only when they differ from their default.
const ALWAYS_SHOWN = new Set(["temperature", "top_p", "top_k"]);

/** The spec from the picker's number inputs (their min, max and data-* attributes). */
export function specFromInputs(inputs) {
  return [...inputs].map((input) => ({
    name: input.name,
    label: input.dataset.label,
    short: input.dataset.short,
    min: Number(input.min),
    max: Number(input.max),
    default: Number(input.dataset.default),
    integer: input.dataset.integer === "true",
  }));
}

/** Check raw field texts; returns {values, errors: [{name, message}]}. */
export function validateValues(spec, raw) {
  const values = {};
  const errors = [];
  for (const field of spec) {
    const text = String(raw[field.name] ?? "").trim();
    const value = Number(text);
    const range = `between ${field.min} and ${field.max}`;
    if (text === "") errors.push({ name: field.name, message: `${field.label} is empty: give a number ${range} (default ${field.default}).` });
    else if (!Number.isFinite(value)) errors.push({ name: field.name, message: `${field.label} must be a number ${range}.` });
    else if (field.integer && !Number.isInteger(value)) errors.push({ name: field.name, message: `${field.label} must be a whole number ${range}.` });
    else if (value < field.min || value > field.max) errors.push({ name: field.name, message: `${field.label} must be ${range}; ${text} is out of range.` });
    else values[field.name] = value;
  }
  return { values, errors };
}

export function makeInstance(model, values) {
  const instance = { model };
  for (const name of PARAMETERS) instance[name] = values[name];
  return instance;
}

export function sameInstance(a, b) {
  return a.model === b.model && PARAMETERS.every((name) => Number(a[name]) === Number(b[name]));
}

/** `T=0.7 P=0.9 K=40`, plus `R= M= S=` where not default. */
export function parametersLabel(spec, instance) {
  return spec
    .filter((field) => instance[field.name] !== undefined && instance[field.name] !== null)
    .filter((field) => ALWAYS_SHOWN.has(field.name) || Number(instance[field.name]) !== field.default)
    .map((field) => `${field.short}=${instance[field.name]}`)
    .join(" ");
}

/** `smollm2-135m (T=0.7 P=0.9 K=40)`: how a chip and a card name an instance. */
export function instanceLabel(spec, instance) {
  return `${shortModelName(instance.model)} (${parametersLabel(spec, instance)})`;
}

/** The instance as the API takes it, from a conversation's instance entry (which has more fields). */
export function instanceFromEntry(entry) {
  if (!entry.model) return null; // blind and not revealed: the model is not known here
  return makeInstance(entry.model, entry);
}

/** All six, for tables where columns should line up: `T=0.7 P=0.9 K=40 R=1.1 M=-1 S=0`. */
export function allParametersLabel(spec, instance) {
  return spec.map((field) => `${field.short}=${instance[field.name] ?? "?"}`).join(" ");
}
