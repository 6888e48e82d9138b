// Runs an in-memory did:plc directory (@did-plc/server, Database.mock()) and the
// reference Bluesky PDS (@atproto/pds) in this one process, for tests only.
//
// Configuration comes from the environment: PLC_PORT (0 = any free port) and the
// usual PDS_* variables (PDS_PORT, PDS_HOSTNAME, PDS_DATA_DIRECTORY, …). PDS_DID_PLC_URL
// is set here to the directory just started. When both listen, one JSON line
// {"ready": true, "pds": URL, "plc": URL} is printed on stdout. SIGTERM/SIGINT stop both.
import { PDS, envToCfg, envToSecrets, readEnv } from '@atproto/pds'
import plcServer from '@did-plc/server'

const { PlcServer, Database } = plcServer

const main = async () => {
  const plcPort = parseInt(process.env.PLC_PORT || '0', 10)
  const plc = PlcServer.create({ db: Database.mock(), port: plcPort })
  const plcHttp = await plc.start()
  const plcUrl = `http://localhost:${plcHttp.address().port}`
  process.env.PDS_DID_PLC_URL = plcUrl

  const env = readEnv()
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  await pds.start()

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    try {
      await pds.destroy()
      await plc.destroy()
    } finally {
      process.exit(0)
    }
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdout.write(
    JSON.stringify({ ready: true, pds: `http://localhost:${env.port}`, plc: plcUrl }) + '\n',
  )
}

main().catch((err) => {
  process.stderr.write(`test PDS failed to start: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
