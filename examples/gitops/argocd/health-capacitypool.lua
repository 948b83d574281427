-- Argo CD health check for interconnect.io/CapacityPool (Lua 5.1, gopher-lua).
--   Healthy     Ready=True and status.observedGeneration == metadata.generation
--   Degraded    Stalled=True, or ProvidersReachable=False (the operator cannot
--               reach a provider: endpoint, TLS or credentials need attention)
--   Progressing everything else (first sync, a spec change not yet observed)
local hs = { status = "Progressing", message = "Waiting for the operator" }

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
local reachable = conditions["ProvidersReachable"]

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end
if reachable ~= nil and reachable.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(reachable, "ProvidersUnreachable")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end
hs.message = describe(ready, "Waiting for the operator")
return hs
