// Model profiles, roles and settings: one import for the rest of Concord.
export * from "./profile.js";
export * from "./settings.js";
export * from "./models.js";
export * from "./roles.js";
