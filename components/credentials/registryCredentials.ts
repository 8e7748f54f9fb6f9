import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { RegistryUser, UserRole } from "../config/users";
import { bcryptWithSalt, renderHtpasswd } from "../render/htpasswd";

export interface RegistryCredentialsArgs {
    /** Users to create, each with a random password. */
    users: RegistryUser[];
    /**
     * Per username, a rotation keeper: a new value replaces that user's password and bcrypt salt
     * (both resources carry it as a keeper), and only theirs.
     */
    rotation: Record<string, string>;
    /** Password length. Default: 32 (letters and digits only, safe to paste into any shell or YAML). */
    passwordLength?: number;
}

export interface UserCredential {
    username: string;
    password: string;
    /** `push` or `pull`; the edge enforces it, the registry checks the password. */
    role: UserRole;
}

/**
 * Registry users with random passwords, and the htpasswd file the registry checks them against.
 * Each hash is bcrypt with a salt kept in state (a `RandomString`), at a low cost (BCRYPT_COST
 * says why): the same file on every run, so no perpetual diff, and cheap per request.
 * `RandomPassword.bcryptHash` would be stable too, but its fixed cost 10 costs 77 ms a request.
 */
export class RegistryCredentials extends pulumi.ComponentResource {
    /** Secret: every user with their password. */
    readonly users: pulumi.Output<UserCredential[]>;
    /** Secret: the htpasswd file. */
    readonly htpasswd: pulumi.Output<string>;
    /** Secret: the registry's `http.secret`, shared by all its instances to sign upload state. */
    readonly httpSecret: pulumi.Output<string>;

    constructor(name: string, args: RegistryCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryCredentials", name, {}, opts);
        const length = args.passwordLength ?? 32;
        // Resource names carry the username only: a role change keeps the password.
        const passwords = args.users.map(({ name: username, role }) => {
            // No keepers until a user is first rotated: existing passwords stay as they are.
            const keeper = args.rotation[username];
            const keepers = keeper === undefined ? {} : { keepers: { rotation: keeper } };
            return {
                username,
                role,
                password: new random.RandomPassword(`${name}-${username}`, { length, special: false, ...keepers }, { parent: this }),
                // Secret: the salt is part of the bcrypt hash, and a removed user's RandomString
                // would otherwise show its result in the preview (docs/reviewing.md).
                salt: new random.RandomString(
                    `${name}-${username}-salt`,
                    { length: 22, special: false, ...keepers },
                    { parent: this, additionalSecretOutputs: ["result"] },
                ),
            };
        });
        this.users = pulumi.secret(
            pulumi.all(passwords.map(({ username, role, password }) => password.result.apply((p) => ({ username, password: p, role })))),
        );
        this.htpasswd = pulumi.secret(
            pulumi
                .all(
                    passwords.map(({ username, password, salt }) =>
                        pulumi.all([password.result, salt.result]).apply(([p, s]) => ({ username, bcryptHash: bcryptWithSalt(p, s) })),
                    ),
                )
                .apply(renderHtpasswd),
        );
        this.httpSecret = pulumi.secret(
            new random.RandomPassword(`${name}-http-secret`, { length: 48, special: false }, { parent: this }).result,
        );
        this.registerOutputs({ users: this.users, htpasswd: this.htpasswd, httpSecret: this.httpSecret });
    }
}
