/** The response headers the edge adds itself, repeated wherever a location sets its own. */
import { directive, NginxNodes } from "./nginxSyntax";

/** Repeated wherever a location adds headers: nginx drops inherited `add_header`s there. */
export const HSTS = directive("add_header", "Strict-Transport-Security", "max-age=31536000", "always");

/**
 * The UI can delete images while the browser holds Basic credentials for the registry: no other
 * site may frame it (clickjacking), guess its content types, or learn its URLs from a Referer.
 */
export const UI_HEADERS: NginxNodes = [
    HSTS,
    directive("add_header", "X-Frame-Options", "DENY", "always"),
    directive("add_header", "Content-Security-Policy", "frame-ancestors 'none'", "always"),
    directive("add_header", "X-Content-Type-Options", "nosniff", "always"),
    directive("add_header", "Referrer-Policy", "same-origin", "always"),
];
