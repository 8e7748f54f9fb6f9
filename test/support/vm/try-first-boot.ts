/**
 * A manual trial, not a test (docs/cloud.md, "What was tried on this machine"): boots the Debian
 * 12 VM with the user data the program renders in alicloud mode (under the mocks), a blank data
 * disk with the disk's serial, and the login key as NoCloud meta-data; waits for SSH with the
 * pinned host key, runs the stack's readiness script, prints what the first boot left, powers off.
 *
 *   node --import tsx test/support/vm/try-first-boot.ts [WORK_DIR]   # QEMU (TCG unless PRIVATE_REGISTRY_VM_ACCEL=kvm)
 */
import { mkdirSync, writeFileSync } from "fs";
import { evaluateProgram, findResource } from "../../../scripts/lib/program/evaluate";
import { debianImage, createRootDisk, createBlankDisk, createSeedDisk, bootVm, waitForSsh, onVm } from "../debianVm";
import { alicloudDiskSerial } from "../../../components/render/cloudInit";
import { knownHostsLine } from "../../../components/render/sshAccess";
import { freePort } from "../../../scripts/lib/loopbackServers";
(async () => {
    const w = process.argv[2] ?? "/tmp/private-registry-first-boot";
    mkdirSync(w, { recursive: true });
    const r = await evaluateProgram({
        config: {
            mode: "alicloud",
            hostnames: ["registry.example.com"],
            alicloud: { region: "cn-hongkong", dnsZone: "example.com", adminCidr: "203.0.113.7/32" },
            acme: { email: "ops@example.com" },
        },
    });
    if (r.error) throw new Error(r.error);
    const vm = findResource(r, "alicloud:ecs/instance:Instance");
    const userData = Buffer.from((vm.inputs as any).userData, "base64").toString();
    const disk = findResource(r, "alicloud:ecs/ecsDisk:EcsDisk");
    const login = findResource(r, "tls:index/privateKey:PrivateKey", "alicloud-login-key").state as any;
    const host = findResource(r, "tls:index/privateKey:PrivateKey", "alicloud-host-key").state as any;
    writeFileSync(`${w}/user-data`, userData);
    writeFileSync(`${w}/id`, login.privateKeyPem, { mode: 0o600 });
    const image = await debianImage();
    const port = await freePort();
    writeFileSync(`${w}/known_hosts`, knownHostsLine("127.0.0.1", port, host.publicKeyOpenssh));
    const root = await createRootDisk(image, `${w}/root-a.qcow2`);
    const data = createBlankDisk(`${w}/data.img`, 1024);
    const seed = await createSeedDisk({ userData, instanceId: "i-first", hostname: "registry", publicKeys: [login.publicKeyOpenssh] }, w);
    const serial = alicloudDiskSerial(disk.id);
    console.log("serial", serial, "port", port);
    const v = bootVm({
        name: "first-boot",
        image,
        workDir: w,
        rootDisk: root,
        seedDisk: seed,
        dataDisks: [{ file: data, format: "raw", serial }],
        sshPort: port,
    });
    const t0 = Date.now();
    const boot = await waitForSsh(v, { user: "root", identityFile: `${w}/id`, knownHostsFile: `${w}/known_hosts` });
    console.log("ssh up after", Date.now() - t0, boot);
    writeFileSync(`${w}/port`, String(port));
    const { renderWaitUntilReadyScript } = await import("../../../components/render/hostScripts");
    const l = { user: "root", identityFile: `${w}/id`, knownHostsFile: `${w}/known_hosts` };
    const ready = await onVm(v, l, renderWaitUntilReadyScript({ dataMountPath: "/srv/registry-data" }), {
        allowFailure: true,
        timeoutMs: 1200_000,
    });
    console.log("ready", ready.code, ready.stdout, ready.stderr.slice(-3000), "after", Date.now() - t0);
    const facts = await onVm(
        v,
        l,
        "cat /etc/ssh/ssh_host_ed25519_key.pub; grep registry-data /etc/fstab; ls -l /dev/disk/by-id/; grep -c 'creating an ext4' /var/log/cloud-init-output.log; systemctl show -p After docker.service | tr ' ' '\\n' | grep registry; systemctl show -p ActiveEnterTimestampMonotonic docker.service 'srv-registry\\x2ddata.mount'; id debian",
        { allowFailure: true },
    );
    console.log(facts.stdout, facts.stderr);
    await v.stop();
    process.exit(0);
})().catch((e) => {
    console.error(e);
    process.exit(1);
});
