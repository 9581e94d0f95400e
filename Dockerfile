# One image for every part of the Kundenportal; the command picks the part:
#   python -m services.gateway | services.accounts | services.pins | services.notifications (the default: gateway)
#   python -m services.<name> migrate          (a Kubernetes init step, a compose one-shot)
#   python -m deploy.printshop                 (the print shop's reference integration)
#   python -m deploy.streams --replicas 3      (ops: JetStream streams and durables)
# Configured by PORTAL_* (PRINTSHOP_*, NATS_*) environment variables alone; nothing secret is in here.
#
#   docker build -t kundenportal .
#   docker run --rm kundenportal python -m services.accounts --help

ARG PYTHON_IMAGE=python:3.11-slim

# Build: the project and its dependencies as wheels, installed into a venv. Every dependency ships
# manylinux wheels, so no compiler is needed even here; if one ever does not, it is added to this
# stage only.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY contracts/ contracts/
COPY runtime/ runtime/
COPY services/ services/
COPY deploy/ deploy/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-index --find-links /wheels kundenportal \
    # the bytecode is made here, once: the final image runs with a read-only root file system
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# Final: the same slim base, the venv and nothing else (no compilers, no source tree, no tests).
FROM ${PYTHON_IMAGE}
ARG UID=10001
RUN groupadd --gid ${UID} portal \
    && useradd --uid ${UID} --gid ${UID} --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin portal \
    # the print shop's volume (compose, Kubernetes); it keeps the letters in letters/ there, 0700
    && install -d -m 0700 -o ${UID} -g ${UID} /srv/printshop
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# numeric, so Kubernetes can check runAsNonRoot without a passwd lookup
USER ${UID}:${UID}
EXPOSE 8000 8001 8002 8003
CMD ["python", "-m", "services.gateway"]
