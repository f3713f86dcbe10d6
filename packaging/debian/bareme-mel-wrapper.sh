#!/bin/sh
# /usr/bin/bareme-mel — la commande de l'exploitant, installée par le paquet.
# Lit la même configuration que le service (/etc/bareme-mel/bareme-mel.toml,
# sauf si BAREME_MEL_CONFIG est déjà défini) et, lancée par root, s'exécute
# sous l'utilisateur bareme-mel : la base et ses fichiers gardent le bon
# propriétaire. Les fichiers donnés en argument doivent alors être lisibles
# (et les dossiers de sortie inscriptibles) par bareme-mel.
set -e
: "${BAREME_MEL_CONFIG:=/etc/bareme-mel/bareme-mel.toml}"
export BAREME_MEL_CONFIG
if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=bareme-mel --regid=bareme-mel --init-groups \
        /usr/lib/bareme-mel/bareme-mel "$@"
fi
exec /usr/lib/bareme-mel/bareme-mel "$@"
