-- Argo CD health of a pruneguard.io PrunedModelEvaluation. Installed by argocd-cm-health.yaml
-- beside this file, which embeds it verbatim (a test compares them); what each state maps to and
-- why: docs/install.md, "Argo CD health".
-- Argo CD runs it in gopher-lua with the base, table and a reduced os library only: no string
-- library and no string methods, so messages are joined with `..`.
local hs = {}
local spec = obj.spec or {}
local status = obj.status or {}
local generation = obj.metadata and obj.metadata.generation

local function condition(conditionType)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- A condition written for an older spec says nothing about the current one.
local function current(c)
  return c ~= nil and (c.observedGeneration == nil or generation == nil or c.observedGeneration >= generation)
end

local function explained(verdict)
  if status.explanation ~= nil then
    return verdict .. ": " .. status.explanation
  end
  return verdict
end

local ready = condition("Ready")
local evaluationFailed = condition("EvaluationFailed")
local pending = ""
if ready ~= nil and ready.status == "False" and ready.reason == "RunPending" then
  pending = " (" .. ready.message .. ")"
end

if spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend: no new runs and no actions"
  if status.verdict ~= nil then
    hs.message = hs.message .. "; last verdict " .. status.verdict
  end
  return hs
end

if current(ready) and ready.status == "False" and ready.reason == "SpecRefused" then
  hs.status = "Degraded"
  hs.message = "SpecRefused: " .. ready.message
  return hs
end

if status.verdict == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the first graded run" .. pending
  return hs
end

-- The verdict is of an older spec: the run for this one is due, pending or running.
if status.observedGeneration ~= nil and generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "evaluating generation " .. tostring(generation) .. pending .. "; the verdict "
    .. status.verdict .. " is of generation " .. tostring(status.observedGeneration)
  return hs
end

if status.verdict == "Critical" then
  hs.status = "Degraded"
  hs.message = explained("Critical")
  return hs
end

-- The last run failed (pod error, OOMKilled, deadline, refused results) or nothing could be
-- graded: the target is held until a run grades, which takes someone fixing something.
if status.verdict == "Inconclusive" then
  hs.status = "Degraded"
  if evaluationFailed ~= nil and evaluationFailed.status == "True" then
    hs.message = "Inconclusive: " .. evaluationFailed.reason .. ": " .. evaluationFailed.message
  else
    hs.message = explained("Inconclusive")
  end
  return hs
end

-- Graded, but the verdict could not be carried out on the target (retried until the next run).
if current(evaluationFailed) and evaluationFailed.status == "True" and evaluationFailed.reason == "ActionFailed" then
  hs.status = "Degraded"
  hs.message = status.verdict .. ", but ActionFailed: " .. evaluationFailed.message
  return hs
end

-- Warning is within the warning thresholds: the target is held (a held Rollout shows as
-- Suspended itself), alerts fire, and the message says why; Degraded is kept for what needs
-- someone now.
if status.verdict == "Warning" or status.verdict == "Pass" then
  hs.status = "Healthy"
  hs.message = explained(status.verdict)
  return hs
end

hs.status = "Unknown"
hs.message = "unknown verdict " .. tostring(status.verdict)
return hs
