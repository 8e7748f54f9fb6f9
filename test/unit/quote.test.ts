/** sh quoting (shell/quote.ts), checked by sh itself. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execFileSync } from "child_process";
import { shellQuote } from "../../components/render/shell/quote";

describe("sh quoting", () => {
    it("quotes anything for the shell", () => {
        for (const value of ["plain", "it's", "$(reboot)", "`x`", 'a"b', "new\nline"]) {
            assert.equal(execFileSync("sh", ["-c", `printf %s ${shellQuote(value)}`]).toString(), value);
        }
    });
});
