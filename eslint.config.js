// The page scripts' linter (make lint): ESLint's recommended rules, each file read as what it is.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/live_admin/vendor/**"] },
  js.configs.recommended,
  {
    files: ["static/live_admin/**/*.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.browser } },
  },
  {
    // The loader is a classic script: it imports the page's modules.
    files: ["static/live_admin/live-admin.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.node, ...globals.browser } },
  },
];
