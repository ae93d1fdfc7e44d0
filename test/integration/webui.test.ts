/**
 * The operator's Web UI path, in a real browser: Temporal's Web UI (the one `temporal server start-dev` serves,
 * UI 2.42) on a recovery waiting at its agreement gate. Headless Chromium reads the recovery point from the
 * `status` query on the Queries tab, opens More Actions > Send a Signal, finds `approveRecoveryPoint` with its
 * description (the UI lists handlers from the workflow's `__temporal_workflow_metadata` query), sends the
 * approval JSON, and the workflow moves past the gate and completes. Screenshots of each step go to
 * `docs/images/runbook/`, where docs/runbook.md shows them (they are committed: rerun this test to refresh them);
 * a failure's screenshot goes to `.test-artifacts/webui/`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Browser, Locator, Page } from 'playwright-core';
import { findTemporalCli, temporalCliMissingMessage } from '../../src/embedded/temporalCli';
import { startTemporalDevServer, type TemporalDevServerHandle } from '../../src/embedded/temporalDevServer';
import { recoveryStatusQuery, type RecoveryReport, type RecoveryStatus } from '../../src/temporal/recovery';
import { artifactDir, launchChromium } from '../harness/browser';
import { createDatabase, runPgbenchInit, tempDir, uniqueName } from '../harness/env';
import { eventually, lifeboatEnv, runCli, startWorker, writePlan, backupSet, type WorkerProcess } from '../harness/lifeboat';

/** The part of the SDK's built-in `__temporal_workflow_metadata` answer that the UI's signal picker reads. */
interface WorkflowMetadata {
  definition?: { signalDefinitions?: { name: string; description?: string }[] };
}

describe('Web UI: an operator approves a recovery point from the browser', () => {
  const dir = tempDir('webui');
  const taskQueue = uniqueName('webui');
  const failures = artifactDir('webui');
  /** docs/runbook.md shows these. */
  const shots = path.resolve(__dirname, '..', '..', 'docs', 'images', 'runbook');
  mkdirSync(shots, { recursive: true });
  let server: TemporalDevServerHandle;
  let uiUrl: string;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let connection: Connection;
  let client: Client;
  let browser: Browser;

  beforeAll(async () => {
    const binary = findTemporalCli();
    if (!binary) throw new Error(temporalCliMissingMessage());
    // The harness's shared server is headless: this test needs one that serves the Web UI.
    const [started, databaseUrl, launched] = await Promise.all([
      startTemporalDevServer({ binary, ui: true, logFile: path.join(dir, 'temporal.log') }),
      createDatabase(uniqueName('webui')).then(async (url) => {
        await runPgbenchInit(url, 1);
        return url;
      }),
      launchChromium(),
    ]);
    server = started;
    browser = launched;
    if (!server.uiUrl) throw new Error('the dev server was started with ui: true but reports no Web UI address');
    uiUrl = server.uiUrl;
    env = lifeboatEnv(taskQueue, { TEMPORAL_ADDRESS: server.address, APPS_DATABASE_URL: databaseUrl });
    worker = await startWorker(env);
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: 'default' });
  }, 15 * 60_000); // launchChromium may first apt-get install chromium on a fresh machine

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await connection?.close();
    await server?.stop();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  test('More Actions > Send a Signal > approveRecoveryPoint moves the recovery past the gate', async () => {
    const planFile = writePlan(dir, {
      name: 'webui',
      store: { type: 'local', path: path.join(dir, 'store') },
      components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } }],
      // No scaling targets: once agreed, the recovery restores and completes within seconds.
      restore: { approvals: { required: 1 } },
    });
    const setId = await backupSet(planFile, env);
    const started = await runCli(['restore', 'start', '--plan', planFile, '--json'], { env });
    expect(started.code).toBe(0);
    const workflowId = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const handle = client.workflow.getHandle(workflowId);
    const gate = await eventually('the agreement gate', async () => {
      const status: RecoveryStatus = await handle.query(recoveryStatusQuery);
      return status.phase === 'agreement' ? status : undefined;
    });
    expect(gate.candidates.map((candidate) => candidate.setId)).toEqual([setId]);
    const timestamp = gate.candidates[0].timestamp;
    const { runId } = await handle.describe();
    // What the UI's signal picker shows comes from here; the workflow declares it with setHandler.
    const metadata = await handle.query<WorkflowMetadata>('__temporal_workflow_metadata');
    const description = metadata.definition?.signalDefinitions?.find((signal) => signal.name === 'approveRecoveryPoint')?.description ?? '';
    expect(description).toContain('"timestamp"');
    expect(description).toContain('"approver"');

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(30_000);
    try {
      // The workflow-id route redirects to the latest run's history: /workflows/<id>/<runId>/history.
      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
      await page.waitForURL(`**/workflows/${encodeURIComponent(workflowId)}/${runId}/history`);
      await expectVisible(page.getByRole('heading', { name: workflowId, level: 1 }));
      await expectVisible(page.getByText('Running', { exact: true }).first());
      await shot(page, '1-waiting-at-gate');

      // The workflow's current details (setCurrentDetails) say what it waits for, on the User Metadata tab.
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      // The UI renders the details' markdown in a sandboxed frame of its own.
      const details = `waiting for 1 approval(s) of one of: ${timestamp}`;
      const shown = await eventually('the current details', async () => {
        for (const frame of page.frames()) if ((await frame.getByText(details).count()) > 0) return true;
        return undefined;
      }, 30_000, 250);
      expect(shown).toBe(true);
      await shot(page, '1b-current-details');

      // Where an operator reads the recovery point: the status query on the Queries tab.
      await page.getByRole('tab', { name: 'Queries' }).click();
      await page.waitForURL(`**/${runId}/query`);
      await expectVisible(page.getByRole('button', { name: 'status' }));
      await page.getByRole('button', { name: 'Run Query' }).click();
      const answer = page.locator('main .cm-content').filter({ hasText: '"phase"' });
      await expectText(answer, '"phase": "agreement"');
      await expectText(answer, `"timestamp": "${timestamp}"`);
      await shot(page, '2-status-query');

      await page.getByRole('button', { name: 'More Actions' }).click();
      await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
      const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
      await dialog.getByRole('button', { name: 'Select a signal' }).click();
      const option = dialog.getByRole('option', { name: /^approveRecoveryPoint/ });
      await expectText(option, description);
      await shot(page, '3-signal-picker');
      await option.click();
      await expectVisible(dialog.getByRole('button', { name: 'approveRecoveryPoint' }));
      // The Data field is a CodeMirror editor (contenteditable), which fill() types into as a user would paste.
      const approval = `{"timestamp": "${timestamp}", "approver": "alice", "comment": "approved from the Web UI"}`;
      await dialog.locator('.cm-content').fill(approval);
      await expectText(dialog.locator('.cm-content'), approval);
      await expectVisible(dialog.getByRole('radio', { name: 'json/plain', checked: true }));
      await shot(page, '4-signal-form-filled');
      await dialog.getByRole('button', { name: 'Submit' }).click();
      await dialog.waitFor({ state: 'hidden' });

      // The gate took the UI's signal: agreed on the candidate, by alice, with her comment.
      const agreed = await eventually('the agreement', async () => {
        const status: RecoveryStatus = await handle.query(recoveryStatusQuery);
        return status.agreed ? status : undefined;
      }, 30_000);
      expect(agreed.errors).toEqual([]);
      expect(agreed.agreed).toEqual({ timestamp, setId, approvers: ['alice'] });
      expect(agreed.approvals.map(({ approver, timestamp: at, comment }) => ({ approver, at, comment }))).toEqual([
        { approver: 'alice', at: timestamp, comment: 'approved from the Web UI' },
      ]);
      const report = (await handle.result()) as RecoveryReport;
      expect(report.outcome).toBe('recovered');
      expect(report.setId).toBe(setId);
      expect(report.approvals.map((vote) => vote.approver)).toEqual(['alice']);

      // Exactly one signal reached the workflow, and it is the one the page sent.
      const history = await handle.fetchHistory();
      const signals = (history.events ?? []).flatMap((event) => (event.workflowExecutionSignaledEventAttributes ? [event.workflowExecutionSignaledEventAttributes] : []));
      expect(signals.map((signal) => signal.signalName)).toEqual(['approveRecoveryPoint']);

      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`);
      await expectVisible(page.getByText('Completed', { exact: true }).first());
      await expectVisible(page.getByRole('cell', { name: 'Workflow Execution Signaled' }).first());
      await shot(page, '5-completed');
    } catch (error) {
      await page.screenshot({ path: path.join(failures, 'failure.png'), fullPage: true }).catch(() => undefined);
      throw error;
    } finally {
      await page.close();
    }
  });
});

/** Playwright's own waiting, with jest's failure: the locator must become visible within the page's timeout. */
async function expectVisible(locator: Locator): Promise<void> {
  await locator.waitFor({ state: 'visible' });
}

/** Waits until the locator's text contains `text` (the UI renders asynchronously), then asserts it. */
async function expectText(locator: Locator, text: string): Promise<void> {
  const seen = await eventually(`"${text}" on the page`, async () => {
    const current = await locator.first().innerText({ timeout: 5_000 });
    return current.includes(text) ? current : undefined;
  }, 30_000, 250).catch(async (error: Error) => {
    throw new Error(`${error.message}; the element shows: ${await locator.first().innerText({ timeout: 1_000 }).catch(() => '(nothing)')}`);
  });
  expect(seen).toContain(text);
}
