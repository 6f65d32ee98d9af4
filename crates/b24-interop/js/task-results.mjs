// Drives the REST 3.0 task-result methods, a REST 3.0 batch and a classic batch
// through the official JS SDK (@bitrix24/b24jssdk), as an application would, and
// prints one JSON summary on stdout.
//
// Input (environment):
//   B24_WEBHOOK_URL  the incoming webhook, classic form https://HOST/rest/USER/SECRET/
//   B24_TASK_ID      the task to write results to (default 51)
//   B24_CHAT_ID      that task's chat (default 58)
//
// The webhook secret never reaches the output: every step's error text is passed
// through redact() before it is printed.
import { B24Hook } from '@bitrix24/b24jssdk'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const sdkVersion = require('@bitrix24/b24jssdk/package.json').version

const hookUrl = process.env.B24_WEBHOOK_URL ?? ''
const taskId = Number.parseInt(process.env.B24_TASK_ID ?? '51', 10)
const chatId = Number.parseInt(process.env.B24_CHAT_ID ?? '58', 10)

// The secret is the last path segment of the webhook URL.
const secret = hookUrl.replace(/\/+$/, '').split('/').pop() ?? ''
function redact (text) {
  const s = String(text)
  return secret.length > 0 ? s.split(secret).join('[redacted]') : s
}

function errorOf (e) {
  return {
    code: e?.code ?? null,
    status: e?.status ?? null,
    description: redact(e?.description ?? e?.message ?? String(e))
  }
}

// An unsuccessful Result: its first error (code, status, description).
function resultErrorOf (result) {
  const errors = [...(result.errors?.values?.() ?? [])]
  if (errors.length > 0) {
    return errorOf(errors[0])
  }
  return { code: null, status: null, description: redact(result.getErrorMessages().join('; ')) }
}

const summary = { sdk: '@bitrix24/b24jssdk', version: sdkVersion, steps: {} }

// Runs one step; a thrown error or a failed result is recorded and the next step
// still runs, so one gap does not hide the rest.
async function step (name, fn) {
  try {
    summary.steps[name] = { ok: true, ...(await fn()) }
  } catch (e) {
    summary.steps[name] = { ok: false, error: errorOf(e) }
  }
  return summary.steps[name]
}

function v3Result (response) {
  if (!response.isSuccess) {
    throw Object.assign(new Error('failed'), resultErrorOf(response))
  }
  return response.getData().result
}

const b24 = B24Hook.fromWebhookUrl(hookUrl)

// 0. The SDK's own availability check: `tools.healthCheck` calls classic `server.time`.
await step('healthCheck', async () => ({ available: await b24.tools.healthCheck.make() }))

// 1. A classic batch (REST v2, `/rest/USER/SECRET/batch`): post a message to the
//    task chat, then read the chat's newest message back.
const classic = await step('classicBatch', async () => {
  const response = await b24.actions.v2.batch.make({
    calls: {
      posted: ['im.message.add', { DIALOG_ID: `chat${chatId}`, MESSAGE: 'Quarterly report is ready (JS SDK)' }],
      history: ['im.dialog.messages.get', { DIALOG_ID: `chat${chatId}`, LIMIT: 1 }]
    },
    options: { isHaltOnError: true }
  })
  if (!response.isSuccess) {
    throw Object.assign(new Error('failed'), resultErrorOf(response))
  }
  const data = response.getData()
  const newest = data.history?.messages?.[0] ?? null
  return {
    messageId: data.posted ?? null,
    newestMessage: newest === null ? null : { id: newest.id, text: newest.text }
  }
})

// 2. REST 3.0: a result made from that chat message.
const fromMessage = await step('addFromChatMessage', async () => {
  if (!classic.ok) throw Object.assign(new Error('no message id: the classic batch failed'), { code: 'SKIPPED' })
  const r = v3Result(await b24.actions.v3.call.make({
    method: 'tasks.task.result.addfromchatmessage',
    params: { fields: { messageId: classic.messageId } }
  }))
  return { item: r.item }
})

// 3. REST 3.0: a result with text.
const added = await step('add', async () => {
  const r = v3Result(await b24.actions.v3.call.make({
    method: 'tasks.task.result.add',
    params: { fields: { taskId, text: 'Draft figures attached (JS SDK)' } }
  }))
  return { item: r.item }
})

// 4. REST 3.0: change its text.
await step('update', async () => {
  if (!added.ok) throw Object.assign(new Error('nothing to update: add failed'), { code: 'SKIPPED' })
  const r = v3Result(await b24.actions.v3.call.make({
    method: 'tasks.task.result.update',
    params: { id: added.item.id, fields: { text: 'Final figures attached (JS SDK)' } }
  }))
  return { item: r.item }
})

// 5. REST 3.0: list the task's results.
await step('list', async () => {
  const r = v3Result(await b24.actions.v3.call.make({
    method: 'tasks.task.result.list',
    params: { filter: [['taskId', taskId]], select: ['id', 'text', 'messageId'], order: { id: 'ASC' } }
  }))
  return { items: r.items }
})

// 6. REST 3.0: delete the result added in step 3.
await step('delete', async () => {
  if (!added.ok) throw Object.assign(new Error('nothing to delete: add failed'), { code: 'SKIPPED' })
  const r = v3Result(await b24.actions.v3.call.make({
    method: 'tasks.task.result.delete',
    params: { id: added.item.id }
  }))
  return { result: r.result }
})

// 7. REST 3.0: list again; the deleted result is gone.
await step('listAfterDelete', async () => {
  const r = v3Result(await b24.actions.v3.call.make({
    method: 'tasks.task.result.list',
    params: { filter: [['taskId', taskId]], select: ['id', 'text'], order: { id: 'ASC' } }
  }))
  return { items: r.items }
})

// 8. A REST 3.0 batch (`/rest/api/USER/SECRET/batch`): update the result made from
//    the message, then list the task's results (the added one is deleted by now).
await step('v3Batch', async () => {
  if (!fromMessage.ok) throw Object.assign(new Error('nothing to update: addFromChatMessage failed'), { code: 'SKIPPED' })
  const response = await b24.actions.v3.batch.make({
    calls: [
      ['tasks.task.result.update', { id: fromMessage.item.id, fields: { text: 'Checked by the JS SDK batch' } }],
      ['tasks.task.result.list', {
        filter: [['taskId', taskId]],
        select: ['id', 'text', 'messageId'],
        order: { id: 'ASC' }
      }]
    ],
    options: { isHaltOnError: true }
  })
  if (!response.isSuccess) {
    throw Object.assign(new Error('failed'), resultErrorOf(response))
  }
  const [updated, listed] = response.getData()
  return { updated: updated?.item ?? null, listed: listed?.items ?? null }
})

// 9. Classic `tasks.task.get` (REST v2) through the SDK's v2 call.
await step('classicTaskGet', async () => {
  const response = await b24.actions.v2.call.make({
    method: 'tasks.task.get',
    params: { taskId, select: ['ID', 'TITLE'] }
  })
  if (!response.isSuccess) {
    throw Object.assign(new Error('failed'), resultErrorOf(response))
  }
  const task = response.getData().result?.task ?? null
  return { task: task === null ? null : { id: task.id, title: task.title } }
})

process.stdout.write(redact(JSON.stringify(summary)) + '\n')
