/**
 * Who may do what at the edge: every request's password is checked here, against a file nginx
 * reads on each request (htpasswd, `{SSHA}` hashes), and every write's role, against a directory
 * holding an empty file per push user, looked up on each write. Neither is in nginx.conf, so a
 * new user, password or role applies to the next request without reloading nginx (edgeApplier.ts
 * replaces both at once), and the registry behind, reachable only through the edge, checks
 * nothing itself (docs/roles.md).
 *
 * In nginx's order: the role is decided in the rewrite phase from the name alone (a write with
 * no name is challenged with 401, a name that is no push user's refused with 403), and the
 * password in the access phase that follows (401), so nothing is allowed on a name alone.
 */
import { USERNAME_PATTERN } from "../config/users";
import { HSTS } from "./edgeHeaders";
import { block, directive, NginxDirective, NginxNodes, verbatim } from "./nginxSyntax";

export interface EdgeAccess {
    /** The Basic auth realm clients are challenged with. */
    realm: string;
    /** Every user's password hash, htpasswd format (`{SSHA}`, or anything nginx's auth_basic reads): read on every request. */
    usersFile: string;
    /** A directory holding an empty file named for each push user: looked up on every write. */
    pushUsersDir: string;
}

const DENIED_BODY = JSON.stringify({
    errors: [{ code: "DENIED", message: "this account may only pull: pushing and deleting need a push user" }],
});
const UNAUTHORIZED_BODY = JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] });
const UNAUTHORIZED = "@registry_unauthorized";

/**
 * `$registry_role_file`: what must exist for the request to pass the role check. A read: the
 * push users' directory itself (always there). A write: the push user's own file (a name that
 * is no username, which no file can have, is the directory's `-`, never created); "" for a write
 * without a name.
 */
export function roleMap(access: EdgeAccess): NginxDirective {
    const dir = access.pushUsersDir.replace(/\/+$/, "");
    return block(
        "map",
        [verbatim('"$request_method:$remote_user"'), "$registry_role_file"],
        [
            directive("~^(GET|HEAD|OPTIONS):", dir),
            directive("~^[^:]+:$", ""),
            directive(`"~^[^:]+:(?<registry_push_user>${USERNAME_PATTERN})$"`, `${dir}/$registry_push_user`),
            directive("default", `${dir}/-`),
        ],
    );
}

/** A server's password check: every location inherits it (the UI's turns it off). */
export function passwordCheck(access: EdgeAccess): NginxNodes {
    return [directive("auth_basic", access.realm), directive("auth_basic_user_file", access.usersFile)];
}

/** What clients need on the edge's own refusals: `add_header` in an `if` or a location replaces the inherited ones. */
function refusalHeaders(uiOrigin: string | undefined): NginxNodes {
    return [
        directive("add_header", "Docker-Distribution-Api-Version", "registry/2.0", "always"),
        HSTS,
        // A UI on its own name reads a refusal only with the CORS headers the registry would send.
        uiOrigin !== undefined && directive("add_header", "Access-Control-Allow-Origin", uiOrigin, "always"),
        uiOrigin !== undefined && directive("add_header", "Access-Control-Allow-Credentials", "true", "always"),
    ];
}

/** The role check, in `/v2/`'s rewrite phase. */
export function writeRefusals(access: EdgeAccess, uiOrigin: string | undefined): NginxNodes {
    return [
        block(
            "if",
            [verbatim('($registry_role_file = "")')],
            [
                ...refusalHeaders(uiOrigin),
                directive("add_header", "WWW-Authenticate", `Basic realm="${access.realm}"`, "always"),
                directive("return", 401, UNAUTHORIZED_BODY),
            ],
        ),
        block("if", [verbatim("(!-e $registry_role_file)")], [...refusalHeaders(uiOrigin), directive("return", 403, DENIED_BODY)]),
    ];
}

/** A failed password check answers as Distribution does (its JSON error); auth_basic's challenge header stays. */
export const unauthorizedPage = (): NginxDirective => directive("error_page", 401, "=", UNAUTHORIZED);
export function unauthorizedLocation(uiOrigin: string | undefined): NginxDirective {
    return block(
        "location",
        [UNAUTHORIZED],
        [...refusalHeaders(uiOrigin), directive("default_type", "application/json"), directive("return", 401, UNAUTHORIZED_BODY)],
    );
}
