/** The FTP adapter is tied to the ftp-srv release it was written for. */
import assert from "node:assert/strict";
import {
  checkFtpSrvVersion,
  INSTALLED_FTP_SRV_VERSION,
  SUPPORTED_FTP_SRV_VERSION,
} from "../protocols/ftp/ftp_server.ts";

Deno.test("the ftp-srv pinned in deno.json is the release the adapter was written for", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(config.imports["ftp-srv"], `npm:ftp-srv@${SUPPORTED_FTP_SRV_VERSION}`);
  assert.equal(INSTALLED_FTP_SRV_VERSION, SUPPORTED_FTP_SRV_VERSION);
  assert.doesNotThrow(() => checkFtpSrvVersion());
});

Deno.test("another ftp-srv release is refused with a message that says what to do", () => {
  assert.throws(() => checkFtpSrvVersion("4.7.0"), (error: Error) => {
    assert.match(error.message, /ftp-srv 4\.7\.0 is installed/);
    assert.match(error.message, /pin npm:ftp-srv@4\.6\.3 in deno\.json/);
    return true;
  });
});
