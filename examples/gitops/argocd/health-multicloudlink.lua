-- Argo CD health check for interconnect.io/MulticloudLink (Lua 5.1, gopher-lua).
-- Same reading of status as kstatus and Flux, plus the link's phase:
--   Healthy     Ready=True and status.observedGeneration == metadata.generation
--   Degraded    Stalled=True, phase Failed or Degraded, Degraded=True (fewer
--               channels than ordered, P12), or Ready=False with a terminal reason
--   Suspended   paused (phase Paused)
--   Progressing everything else (key, placement, negotiation, provisioning,
--               a spec change the operator has not seen yet)
local hs = { status = "Progressing", message = "Waiting for the operator" }

-- Reasons after which the operator stops retrying this generation: the spec
-- must change (interconnect_operator.protocol.link_state Fail / stalled).
local terminal = {
  KeyRefused = true,
  DeferralTimeout = true,
  NoCapacity = true,
  NoChannels = true,
  NegotiationFailed = true,
}

if obj.status == nil then
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local conditions = {}
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    conditions[condition.type] = condition
  end
end

local function describe(condition, fallback)
  if condition == nil then
    return fallback
  end
  local text = condition.reason or fallback
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

local ready = conditions["Ready"]
local stalled = conditions["Stalled"]
local degraded = conditions["Degraded"]
local phase = obj.status.phase

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end
if phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe(ready, "Failed")
  return hs
end
if ready ~= nil and ready.status == "False" and terminal[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready, "NotReady")
  return hs
end
if phase == "Degraded" or (degraded ~= nil and degraded.status == "True") then
  hs.status = "Degraded"
  hs.message = describe(degraded, "Degraded")
  return hs
end
if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = "Reconciliation paused (annotation interconnect.io/paused)"
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end
hs.message = describe(ready, phase or "Waiting for the operator")
return hs
